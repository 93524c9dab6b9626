"""Reads the hog's timeline (Sources/CTestHelperSupport/Timeline.c): when the unreclaimable memory crossed the
trigger and when SIGTERM arrived, both measured in the child."""
import struct


class Timeline:
    def __init__(self, path):
        data = open(path, "rb").read()
        term, count = struct.unpack_from("<qq", data, 0)
        count = min(count, (len(data) - 16) // 24)
        values = struct.unpack_from(f"<{3 * count}q", data, 16)
        self.term_ns = term or None
        entries = [values[i:i + 3] for i in range(0, 3 * count, 3)]
        # (figure read, memset began, unreclaimable bytes after the chunk), in the order they were read
        self.chunks = sorted((read, began, unreclaimable) for began, read, unreclaimable in entries if read > 0 and unreclaimable >= 0)
        self.readings = [(read, unreclaimable) for read, _, unreclaimable in self.chunks]
        # Chunks SIGTERM interrupted: only their beginning is known.
        self.interrupted = sorted(began for began, read, _ in entries if read == 0 and began > 0)

    def rate(self):
        """Growth of the unreclaimable memory (what the guard counts) over the recorded readings, bytes per second."""
        if len(self.readings) < 2:
            return None
        (t0, w0), (t1, w1) = self.readings[0], self.readings[-1]
        return (w1 - w0) / ((t1 - t0) / 1e9) if t1 > t0 else None

    def memset_ns(self):
        """How long touching one chunk takes (the median of the completed ones)."""
        durations = sorted(read - began for read, began, _ in self.chunks)
        return durations[len(durations) // 2] if durations else 0

    def crossing_ns(self, trigger, chunk_bytes=1 << 20):
        """When the unreclaimable memory reached `trigger`: within the memset of the chunk that crossed it, in
        proportion to how far into the chunk the trigger lies. When SIGTERM interrupted the chunk that
        would have crossed, the same proportion of a typical memset after it began; when the child was
        stopped before, extrapolated at the recorded rate (growth resumes at its next chunk)."""
        previous = None
        for read, began, unreclaimable in self.chunks:
            if unreclaimable >= trigger:
                if previous is None or unreclaimable <= previous[1]:
                    return began
                fraction = (trigger - previous[1]) / (unreclaimable - previous[1])
                return began + fraction * (read - began)
            previous = (read, unreclaimable)
        if previous is None:
            return None
        if self.interrupted:
            fraction = (trigger - previous[1]) / chunk_bytes
            if fraction <= 1:
                return self.interrupted[0] + fraction * self.memset_ns()
        rate = self.rate()
        if not rate or rate <= 0:
            return None
        return previous[0] + (trigger - previous[1]) / rate * 1e9

    def reaction_ms(self, trigger):
        """SIGTERM's arrival minus the crossing, in ms; negative when the guard fired before the trigger
        (on the growth rate). None without SIGTERM or readings."""
        crossing = self.crossing_ns(trigger)
        if self.term_ns is None or crossing is None:
            return None
        return (self.term_ns - crossing) / 1e6
