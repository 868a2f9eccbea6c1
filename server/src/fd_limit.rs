//! The open-file limit: every socket is a file descriptor, and the usual soft limit
//! (1,024) would refuse connections long before memory runs out. The soft limit may be
//! raised to the hard one without privilege, so the server does it at start-up.

/// Raises the soft open-file limit to the hard limit; returns (before, after).
pub fn raise_to_hard_limit() -> std::io::Result<(u64, u64)> {
    // SAFETY: getrlimit and setrlimit only read and write the struct they are given.
    let mut limit: libc::rlimit = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let before = limit.rlim_cur;
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok((before, limit.rlim_cur))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_soft_limit_ends_at_the_hard_one() {
        let (before, after) = super::raise_to_hard_limit().expect("the limit can be read");
        assert!(after >= before);
        let (again, unchanged) = super::raise_to_hard_limit().expect("the limit can be read");
        assert_eq!((again, unchanged), (after, after));
    }
}
