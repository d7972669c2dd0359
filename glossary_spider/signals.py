"""Signals of this project, sent through the crawler's ``SignalManager`` (``crawler.signals``), as
Scrapy's own (:mod:`scrapy.signals`) are."""

stop_requested = object()  # the run stops before its end (SIGTERM / SIGINT, a site given up on): end every wait,
#                            write what is buffered
run_abandoned = object()  # the stop took longer than its grace: finish the run now, in-flight work is dropped
limit_reached = object()  # a limit cut something; arguments: url, stage, error, detail
