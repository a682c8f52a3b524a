import sys

from keras_cxr.cli import main

sys.exit(main())
