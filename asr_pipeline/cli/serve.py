"""``asr-pipeline serve``: the pipeline behind OpenAI- and Vosk-compatible endpoints."""

from typing import Annotated

import typer

from ..errors import ConfigError, MissingDependencyError
from ..pipeline import Pipeline
from .options import (
    ConfigOption,
    DeviceOption,
    ModelOption,
    SetOption,
    StagesOption,
    VerboseOption,
    VocabularyOption,
    pipeline_config,
    reporting_errors,
    say,
)

__all__ = ["serve"]

PANEL = "Server options"


def serve(
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to listen on; the default answers this machine only.",
            rich_help_panel=PANEL,
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="TCP port to listen on.", rich_help_panel=PANEL)
    ] = 8000,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            metavar="KEY",
            envvar="ASR_PIPELINE_API_KEY",
            show_envvar=True,
            help="Require this key from clients (Authorization: Bearer KEY, or ?api_key=KEY "
            "on the WebSocket).",
            rich_help_panel=PANEL,
        ),
    ] = None,
    max_upload_mb: Annotated[
        float,
        typer.Option(
            "--max-upload-mb",
            metavar="MB",
            help="Largest upload accepted; larger ones get 413.",
            rich_help_panel=PANEL,
        ),
    ] = 500,
    max_streams: Annotated[
        int,
        typer.Option(
            "--max-streams",
            metavar="N",
            help="Most WebSocket streams at once; more are refused with close code 1013.",
            rich_help_panel=PANEL,
        ),
    ] = 16,
    config: ConfigOption = None,
    set_: SetOption = None,
    stages: StagesOption = None,
    model: ModelOption = None,
    device: DeviceOption = None,
    vocabulary: VocabularyOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Serve speech recognition over HTTP and WebSocket (OpenAI- and Vosk-compatible).

    POST /v1/audio/transcriptions takes uploads as OpenAI's API does.

    /v1/stream (and /) speaks Vosk's WebSocket protocol.

    Models load once, before the server listens; GET /health answers 200 once it does.
    """
    with reporting_errors(verbose):
        if not 1 <= port <= 65535:
            raise ConfigError(f"expected a port from 1 to 65535, got {port}", "--port")
        if max_upload_mb <= 0:
            raise ConfigError(f"expected megabytes > 0, got {max_upload_mb}", "--max-upload-mb")
        if max_streams < 1:
            raise ConfigError(f"expected at least 1, got {max_streams}", "--max-streams")
        config_ = pipeline_config(config, set_, stages, model, device, vocabulary)
        try:
            import uvicorn

            from ..serve.app import Service, create_app
        except ImportError as e:
            raise MissingDependencyError("asr-pipeline serve", "serve", e.name) from e
        service = Service(
            Pipeline(config_),
            config_.serve,
            api_key=api_key,
            max_upload_mb=max_upload_mb,
            max_streams=max_streams,
        )
        say(f"serving on http://{host}:{port} (model {service.model_id})")
        uvicorn.run(
            create_app(service),
            host=host,
            port=port,
            log_level="info" if verbose else "warning",
            ws_max_size=1 << 20,
        )
