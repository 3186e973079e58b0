"""One monitor for every driver: per-pass timing, ELBO and throughput."""

import time

from tqdm.auto import tqdm

__all__ = ["PassMonitor"]


class PassMonitor:
    """Timing, ELBO and throughput of each pass of a driver.

    Parameters
    ----------
    n_passes : int
        Planned number of passes (the progress bar's total).
    n_tokens : float
        Tokens (or samples) processed per pass, for the throughput figure.
    progress_bar : bool
        Show a tqdm progress bar (on stderr) with the ELBO and tokens/s.
    verbose : int
        Print one line per pass when > 0, as scikit-learn does.
    unit : str, default="tokens"
        Name of what ``n_tokens`` counts.
    """

    def __init__(self, n_passes, n_tokens, progress_bar=False, verbose=0, unit="tokens"):
        self.n_passes = n_passes
        self.n_tokens = float(n_tokens)
        self.verbose = verbose
        self.unit = unit
        self.pass_seconds = []
        self._bar = tqdm(total=n_passes, disable=not progress_bar, unit="pass", leave=True)
        self._t0 = time.perf_counter()

    def end_pass(self, i, elbo=None, extra="", perplexity=None):
        """Record the end of pass ``i`` (0-based) with its ELBO (nats) or None.

        With ``verbose`` the line starts as scikit-learn's LDA prints it,
        ``iteration: %d of max_iter: %d`` and, on a pass where the perplexity
        was evaluated, ``, perplexity: %.4f``; fastcavi's figures follow.
        """
        now = time.perf_counter()
        seconds = now - self._t0
        self._t0 = now
        self.pass_seconds.append(seconds)
        rate = self.n_tokens / seconds if seconds > 0 else float("inf")
        postfix = {f"{self.unit}/s": f"{rate:.3g}"}
        if elbo is not None:
            postfix["elbo"] = f"{elbo:.6g}"
        if perplexity is not None:
            postfix["perplexity"] = f"{perplexity:.6g}"
        self._bar.set_postfix(postfix, refresh=False)
        self._bar.update(1)
        if self.verbose:
            msg = f"iteration: {i + 1} of max_iter: {self.n_passes}"
            if perplexity is not None:
                msg += f", perplexity: {perplexity:.4f}"
            if elbo is not None:
                msg += f", elbo: {elbo:.6g}"
            msg += f", {rate:.3g} {self.unit}/s{extra}"
            print(msg)

    def close(self):
        """Close the progress bar."""
        self._bar.close()
