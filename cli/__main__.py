"""`python -m cli`: the same as the `rag` command."""

from cli.main import main

if __name__ == "__main__":
    main()
