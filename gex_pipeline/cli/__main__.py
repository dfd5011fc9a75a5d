import sys

from gex_pipeline.cli.main import main

sys.exit(main())
