"""The ``glossary`` command: its console script, and ``python -m glossary_spider``."""

from glossary_spider import startup


def main() -> None:
    startup.closed_streams()
    startup.starting()  # before the command's imports, which take most of a second
    from glossary_spider.cli import main as command

    command()


if __name__ == "__main__":
    main()
