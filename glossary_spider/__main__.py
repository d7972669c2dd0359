from glossary_spider.cli import main

main()
