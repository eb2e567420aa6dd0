"""`python -m wsserver [--host HOST] [--port PORT]`: the same server as `python app.py`."""
import sys

from .ops.serve import main

sys.exit(main())
