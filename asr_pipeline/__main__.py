"""``python -m asr_pipeline``: the same as the ``asr-pipeline`` command."""

from .cli import main

if __name__ == "__main__":
    main()
