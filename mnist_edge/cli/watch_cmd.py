"""``mnist-edge watch``."""

from __future__ import annotations

import click

from mnist_edge.cli.common import MIN_CONFIDENCE_OPTION, QUIET_OPTION, logger, out


def _roi(ctx, param, value):
    if value is None:
        return None
    try:
        x, y, w, h = (int(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter("expected x,y,w,h in pixels, e.g. 100,80,320,200") from None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise click.BadParameter("x and y must be >= 0, w and h > 0")
    return (x, y, w, h)


@click.command(name="watch")
@click.argument("source")
@click.option(
    "--interval",
    type=click.FloatRange(0, 3600),
    default=1.0,
    show_default=True,
    help="Seconds between snapshots (snapshot:URL) and folder scans.",
)
@click.option(
    "--roi",
    callback=_roi,
    default=None,
    metavar="X,Y,W,H",
    help="Read only this region of the frame (pixels).",
)
@click.option("--number", "as_number", is_flag=True, help="Read a number (a row of digits), not one digit.")
@click.option(
    "--stable",
    type=click.IntRange(1, 1000),
    default=3,
    show_default=True,
    help="Publish a reading once it has been the same for this many frames (and differs from the last).",
)
@click.option(
    "--mqtt",
    default=None,
    metavar="URL",
    help="Publish to mqtt://[user:pass@]host[:port]/topic (mqtts:// for TLS); user and password "
    "may come from MNIST_EDGE_MQTT_USERNAME / MNIST_EDGE_MQTT_PASSWORD.",
)
@click.option(
    "--ha-discovery", is_flag=True, help="With --mqtt: announce a Home Assistant sensor (MQTT discovery)."
)
@click.option(
    "--name",
    default="mnist-edge",
    show_default=True,
    help="The sensor's name (MQTT client id, Home Assistant device).",
)
@click.option(
    "--save-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Keep the frame behind each published reading here.",
)
@click.option(
    "--keep",
    type=click.IntRange(1, 1_000_000),
    default=100,
    show_default=True,
    help="With --save-dir: at most this many frames (the oldest go first).",
)
@click.option(
    "--bench",
    type=click.IntRange(0, 10_000_000),
    default=0,
    help="Read this many frames as fast as they come, then print per-stage p50/p99, frames read "
    "and dropped, and frames per second.",
)
@click.option(
    "--frames",
    "max_frames",
    type=click.IntRange(0, None),
    default=0,
    help="Stop after this many frames (0: never).",
)
@click.option(
    "--model",
    "model_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="A .tflite model (default: the shipped one).",
)
@MIN_CONFIDENCE_OPTION
@QUIET_OPTION
def command(
    source,
    interval,
    roi,
    as_number,
    stable,
    mqtt,
    ha_discovery,
    name,
    save_dir,
    keep,
    bench,
    max_frames,
    model_path,
    min_confidence,
    quiet,
):
    """Read SOURCE continuously and publish each steady reading (JSON lines; MQTT; Home Assistant).

    SOURCE is a video device (/dev/video0: USB webcams, the Pi camera through
    V4L2), a video file, an rtsp:// or http:// stream (FFmpeg through PyAV),
    snapshot:URL (an image per request, polled every --interval s: ESP32-CAM's
    /capture, IP cameras), a folder a camera app writes into (new files, in
    order), or picamera2 (Raspberry Pi OS's own package). The newest frame
    always wins: a slow model drops frames (counted), it never queues them.

    A reading (a digit, a number with --number, "not a digit", or "nothing"
    in view) is published once it has held for --stable frames and differs
    from the last one. A lost camera or stream is one warning line, the
    reading goes unavailable (MQTT availability "offline"), and it is retried
    with back-off. SIGTERM or Ctrl-C: the source is released, exit 0.
    """
    import time

    from mnist_edge import __version__, runtime
    from mnist_edge.runtime.reading import Reader
    from mnist_edge.watch import WatchConfig, publish
    from mnist_edge.watch.loop import Watcher, bench_report

    if ha_discovery and not mqtt:
        raise click.UsageError("--ha-discovery goes with --mqtt URL")
    config = WatchConfig(
        source=source,
        interval=interval,
        roi=roi,
        number=as_number,
        stable=stable,
        mqtt=mqtt,
        ha_discovery=ha_discovery,
        save_dir=save_dir,
        keep=keep,
        bench=bench,
        max_frames=max_frames,
        min_confidence=min_confidence,
        model=model_path,
        name=name,
    )
    warn = lambda msg: click.echo(f"watch: {msg}", err=True)
    log = logger(quiet)
    predictor = runtime.Predictor(
        model_path or runtime.default_model_path(), untrusted=model_path is not None
    )
    reader = Reader(predictor, min_confidence)
    sinks = publish.sinks(config, predictor.model_path.name, __version__, warn)
    if bench:
        sinks = [s for s in sinks if not isinstance(s, publish.JsonLines)]
    watcher = Watcher(config, reader, sinks, warn)
    watcher.install_signal_handlers()
    log(f"watching {source} with {predictor.model_path.name}; publishing after {stable} steady frame(s)")
    started = time.perf_counter()
    try:
        counts = watcher.run()
    finally:
        for sink in sinks:
            sink.close()
    if bench:
        out(bench_report(counts, watcher.read, watcher.dropped, time.perf_counter() - started))
    log(
        f"stopped: {counts.frames} frames read, {counts.published} readings published, "
        f"{watcher.dropped} frames dropped, {counts.corrupt} corrupt, source lost {counts.lost} time(s)"
    )
