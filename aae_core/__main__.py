"""`python -m aae_core train|eval|bench|report ...`"""

from .cli import main

raise SystemExit(main())
