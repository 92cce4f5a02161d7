import sys

from onboard.cli.main import entry

if __name__ == "__main__":
    sys.exit(entry())
