//! Open-file limits: each virtual user holds a socket (a file descriptor), so before a run the
//! soft `RLIMIT_NOFILE` is raised to the hard limit, and a run that still cannot fit is refused
//! before it starts (never silently run with fewer users).

/// Descriptors kept for everything that is not a user's socket: stdio, the runtime's epoll and
/// wake-up pipes, log and result files, the listening socket of `--demo`.
pub const RESERVED_FDS: u64 = 64;

/// Raises the soft open-files limit to the hard one where it is lower; returns the soft limit
/// now in force (`None` if it cannot be read, e.g. on a platform without `getrlimit`).
pub fn raise_open_files() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own; RLIMIT_NOFILE is a valid resource.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit reads the struct we pass; raising the soft limit up to the hard
        // one is always allowed.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit.rlim_cur = limit.rlim_max;
        } else {
            tracing::warn!(
                soft = limit.rlim_cur,
                hard = limit.rlim_max,
                "could not raise the open-files limit"
            );
        }
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every platform
    Some(limit.rlim_cur as u64)
}

/// Descriptors one process needs for `users` users of `sockets_per_user` sockets each, when the
/// server runs in the same process (`--demo`: it holds the other end of each connection) or not.
pub fn needed(users: u64, sockets_per_user: u64, server_in_process: bool) -> u64 {
    let ends = if server_in_process { 2 } else { 1 };
    users
        .saturating_mul(sockets_per_user)
        .saturating_mul(ends)
        .saturating_add(RESERVED_FDS)
}

/// The refusal when `needed` descriptors do not fit in `limit`, with what to do instead.
pub fn refusal(users: u64, needed: u64, limit: u64, server_in_process: bool) -> String {
    let per_user = if server_in_process {
        "2 per user with --demo (both ends of each connection are in this process)"
    } else {
        "1 per user"
    };
    let fit = limit.saturating_sub(RESERVED_FDS) / if server_in_process { 2 } else { 1 };
    format!(
        "{users} users need about {needed} open files ({per_user}, plus {RESERVED_FDS}), but this \
         process may open {limit} (the hard limit; raise it with `ulimit -Hn` as root or in \
         limits.conf). At most about {fit} users fit in one process: split the load with \
         --workers K (each worker has its own limit) or --segment I/N across machines"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_need_counts_both_ends_when_the_server_is_in_process() {
        assert_eq!(needed(100, 1, false), 164);
        assert_eq!(needed(100, 1, true), 264);
        assert_eq!(needed(u64::MAX, 2, true), u64::MAX);
        let text = refusal(30_000, 30_064, 20_000, false);
        assert!(
            text.contains("30000 users need about 30064 open files"),
            "{text}"
        );
        assert!(text.contains("--workers"));
    }

    #[test]
    fn raising_leaves_a_usable_limit() {
        let limit = raise_open_files().expect("getrlimit works here");
        assert!(limit >= 16);
    }
}
