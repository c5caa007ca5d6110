import sys

from host_tools.interp.build import main

sys.exit(main())
