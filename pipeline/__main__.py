"""`python -m pipeline` runs the same CLI as `labelaudit`."""

from pipeline.cli import app

if __name__ == "__main__":
    app(prog_name="labelaudit")
