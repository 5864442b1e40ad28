"""Daily log files: application-, security- and audit-YYYY-MM-DD.log under LOG_DIR.

Lines look like `2026-11-28T13:00:00.123Z INFO GET /api/inventory/list 200 duration=12ms`, one event
per line, so the operations guide's grep recipes work on them.
"""
import datetime
import logging
import os
import sys

CHANNELS = ("application", "security", "audit")


class UTCFormatter(logging.Formatter):
    def format(self, record):
        stamp = datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc)
        message = record.getMessage().replace("\n", " | ")
        return "%s.%03dZ %s %s" % (stamp.strftime("%Y-%m-%dT%H:%M:%S"), stamp.microsecond // 1000,
                                   record.levelname, message)


class DailyFileHandler(logging.Handler):
    """Appends to `<prefix>-<local date>.log`, switching file when the local date changes.

    logging.Handler.handle() holds the handler's lock around emit(), which makes this thread-safe.
    """

    def __init__(self, directory, prefix):
        super().__init__()
        self.directory = str(directory)
        self.prefix = prefix
        self._date = None
        self._stream = None
        self.setFormatter(UTCFormatter())

    def path_for(self, date):
        return os.path.join(self.directory, "%s-%s.log" % (self.prefix, date.isoformat()))

    def emit(self, record):
        try:
            date = datetime.date.fromtimestamp(record.created)
            if date != self._date or self._stream is None:
                if self._stream is not None:
                    self._stream.close()
                os.makedirs(self.directory, exist_ok=True)
                self._stream = open(self.path_for(date), "a", encoding="utf-8")
                self._date = date
            self._stream.write(self.format(record) + "\n")
            self._stream.flush()
        except Exception:  # pylint: disable=broad-except
            self.handleError(record)

    def close(self):
        self.acquire()
        try:
            if self._stream is not None:
                self._stream.close()
                self._stream = None
        finally:
            self.release()
        super().close()


class ServiceLogs:
    """The three log channels of one service instance.

    The loggers are created outside logging's global registry, so several app instances (tests) each
    write to their own LOG_DIR and nothing propagates to the root logger twice.
    """

    def __init__(self, log_dir, console=False):
        self.handlers = []
        for channel in CHANNELS:
            logger = logging.Logger("inventory_service.%s" % channel, logging.INFO)
            handler = DailyFileHandler(log_dir, channel)
            logger.addHandler(handler)
            self.handlers.append(handler)
            if console:
                stream = logging.StreamHandler(sys.stderr)
                stream.setFormatter(_ChannelFormatter(channel))
                logger.addHandler(stream)
                self.handlers.append(stream)
            setattr(self, channel, logger)

    def close(self):
        for handler in self.handlers:
            handler.close()


class _ChannelFormatter(UTCFormatter):
    def __init__(self, channel):
        super().__init__()
        self.channel = channel

    def format(self, record):
        return "[%s] %s" % (self.channel, super().format(record))
