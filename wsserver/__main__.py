"""`python -m wsserver [--host HOST] [--port PORT]`: the same server as `python app.py`."""
import sys

from .serve import main

sys.exit(main())
