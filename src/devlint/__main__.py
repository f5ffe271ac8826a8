"""`python -m devlint`: the same command as the `devlint` script."""

from devlint.cli import main

if __name__ == "__main__":
    main()
