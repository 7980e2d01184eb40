//! Lines typed while an entry was still running.
//!
//! Between prompts the terminal is in its ordinary (canonical) mode, so whatever the user types
//! during a long await is echoed and kept by the kernel, line by line. rustyline reads such
//! pending input in one gulp when the next prompt starts and keeps only the first line: the rest
//! would be lost. So before each prompt the shell takes the complete lines already waiting, and
//! runs them as if they had been typed at the prompt.

use std::collections::VecDeque;
use std::os::fd::AsRawFd;

/// Complete lines waiting on standard input, oldest first, without blocking.
pub fn pending_lines() -> VecDeque<String> {
    pending_lines_on(std::io::stdin().as_raw_fd())
}

/// Complete lines waiting on `fd`, oldest first, without blocking.
fn pending_lines_on(fd: i32) -> VecDeque<String> {
    let mut text = Vec::new();
    while readable_now(fd) {
        let mut buf = [0u8; 4096];
        // SAFETY: `buf` is a valid, writable buffer of the given length for the whole call.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break; // end of input or an error: leave it for the line editor to report
        }
        text.extend_from_slice(&buf[..n as usize]);
        if !text.ends_with(b"\n") {
            break; // canonical mode hands out whole lines; a partial one means no more are ready
        }
    }
    String::from_utf8_lossy(&text)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Whether a read of `fd` would return at once.
fn readable_now(fd: i32) -> bool {
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let ready = unsafe { libc::poll(&mut poll, 1, 0) };
    ready == 1 && poll.revents & libc::POLLIN != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pipe standing in for the terminal: (read end, write end).
    fn pipe() -> (i32, i32) {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe() writes.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        (fds[0], fds[1])
    }

    fn write(fd: i32, text: &str) {
        // SAFETY: the pointer and length describe `text`'s bytes.
        let n = unsafe { libc::write(fd, text.as_ptr().cast(), text.len()) };
        assert_eq!(n, text.len() as isize);
    }

    #[test]
    fn takes_every_waiting_line_and_never_blocks() {
        let (read, write_end) = pipe();
        assert!(
            pending_lines_on(read).is_empty(),
            "nothing waiting: no block, no lines"
        );
        write(write_end, "1 + 1\nprint(\"two\")\n");
        assert_eq!(pending_lines_on(read), ["1 + 1", "print(\"two\")"]);
        assert!(pending_lines_on(read).is_empty(), "each line is taken once");
        // SAFETY: both descriptors are ours and open.
        unsafe {
            libc::close(read);
            libc::close(write_end);
        }
    }
}
