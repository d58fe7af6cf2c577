"""The one progress reporter of fastrnn: the command line's long jobs and
`fastrnn.train` both show their progress through `Progress`."""
import contextlib
import sys


class Progress:
    """A progress bar on standard error, used as a context manager.

    tqdm's bar (``tqdm.auto``, so a notebook gets its widget) when tqdm is
    installed; otherwise one plain line, ``description: n/total unit``,
    rewritten in place with a carriage return and ended by a newline when
    closed. Disabled (``enabled=False``, or nothing to count) it writes
    nothing at all, so callers need no branch of their own.

    Parameters
    ----------
    total : int
        How many steps make the whole job.
    description : str
        What is running ("fit", "train"...), shown first.
    unit : str
        What one step is ("chunks", "batches"...).
    enabled : bool
        False for no output (a ``--quiet`` flag, ``train(progress=False)``).

    Examples
    --------
    >>> with Progress(3, "fit", "chunks", enabled=False) as bar:
    ...     for _ in range(3):
    ...         bar.update()
    >>> bar.n
    3
    """

    def __init__(self, total, description, unit, enabled=True):
        self.total, self.description, self.unit = total, description, unit
        self.n = 0
        self._note = ""
        self._tqdm = None
        self._plain = False
        self._shown = 0
        if not enabled or total <= 0:
            return
        try:
            # The package first: a submodule imported before stays in
            # sys.modules even when tqdm itself is made unimportable.
            import tqdm  # noqa: F401
            from tqdm.auto import tqdm as tqdm_bar
        except ImportError:
            self._plain = True
            self._show()
        else:
            self._tqdm = tqdm_bar(total=total, desc=description, unit=unit, leave=False,
                                  file=sys.stderr)

    def update(self, k=1):
        """Count ``k`` more steps done."""
        self.n += k
        if self._tqdm is not None:
            self._tqdm.update(k)
        elif self._plain:
            self._show()

    def set_postfix(self, text):
        """Show ``text`` after the count (e.g. the last loss) from now on."""
        self._note = text
        if self._tqdm is not None:
            self._tqdm.set_postfix_str(text)
        elif self._plain:
            self._show()

    def close(self):
        """End the bar (the plain line with a newline); later calls do nothing."""
        if self._tqdm is not None:
            self._tqdm.close()
        elif self._plain:
            self._write("\n")
        self._tqdm = None
        self._plain = False

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _show(self):
        line = f"{self.description}: {self.n}/{self.total} {self.unit}"
        if self._note:
            line += f"  {self._note}"
        # Blanks over what is left of a longer line written before.
        self._write("\r" + line + " " * max(self._shown - len(line), 0))
        self._shown = len(line)

    @staticmethod
    def _write(text):
        # A progress line is not worth failing the job for: a closed or
        # broken standard error stops it, not the work.
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(text)
            sys.stderr.flush()
