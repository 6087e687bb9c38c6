import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from vizcore.cli import main  # noqa: E402  (the log level must be set before TensorFlow loads)

sys.exit(main())
