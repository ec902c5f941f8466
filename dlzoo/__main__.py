"""Allow ``python -m dlzoo``."""

from dlzoo.cli import main

if __name__ == "__main__":
    main()
