"""`python -m devlint`: the same command as the `devlint` script."""

from devlint.launch import main

if __name__ == "__main__":
    main()
