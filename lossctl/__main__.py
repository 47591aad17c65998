"""``python -m lossctl``."""

from lossctl.cli import main

if __name__ == "__main__":
    main()
