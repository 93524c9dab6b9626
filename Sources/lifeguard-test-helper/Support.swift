import CTestHelperSupport
import Glibc

func say(_ line: String) {
    let text = line + "\n"
    _ = text.withCString { write(STDOUT_FILENO, $0, strlen($0)) }
}

func fail(_ message: String) -> Never {
    _ = ("lifeguard-test-helper: " + message + "\n").withCString { write(STDERR_FILENO, $0, strlen($0)) }
    exit(99)
}

func sleepSeconds(_ seconds: Double) {
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}

/// Every signal a process can wait for (not KILL/STOP, not glibc's 32/33).
func waitableSignals() -> sigset_t {
    var set = sigset_t()
    sigemptyset(&set)
    for number in 1...__libc_current_sigrtmax() where number != SIGKILL && number != SIGSTOP {
        if number > 31 && number < __libc_current_sigrtmin() { continue }
        sigaddset(&set, number)
    }
    return set
}
