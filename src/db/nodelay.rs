//! TCP_NODELAY on the database connections.
//!
//! sqlx opens its TCP sockets with Nagle's algorithm on (libpq and the MySQL
//! client library turn it off). A COPY writes twice before it reads (its last
//! piece of data, then CopyDone), so the second write waits for the server's
//! delayed ACK: with a batch's quarantined rows copied after its rows, the
//! 1M-row MariaDB → PostgreSQL sample took 28.0–28.4 s with Nagle on and
//! 22.0–24.4 s with it off (alternating runs). sqlx does not hand out its
//! sockets, so after each connection is made this sets the option on every
//! TCP socket the process has open, which only changes when small writes
//! are sent.

/// Sets TCP_NODELAY on every TCP socket of this process. Errors are ignored:
/// a socket that closes meanwhile, or a descriptor that is not a socket, is
/// skipped; the connection works the same either way, only slower.
pub fn on_tcp_sockets() {
    #[cfg(target_os = "linux")]
    linux::on_tcp_sockets();
}

#[cfg(target_os = "linux")]
mod linux {
    use std::mem::size_of;

    pub fn on_tcp_sockets() {
        let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
            return;
        };
        for entry in dir.flatten() {
            let Some(fd) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            let is_socket = std::fs::read_link(entry.path())
                .is_ok_and(|t| t.to_string_lossy().starts_with("socket:"));
            if is_socket && is_tcp(fd) {
                set_int(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1);
            }
        }
    }

    fn is_tcp(fd: libc::c_int) -> bool {
        let domain = get_int(fd, libc::SOL_SOCKET, libc::SO_DOMAIN);
        let kind = get_int(fd, libc::SOL_SOCKET, libc::SO_TYPE);
        matches!(domain, Some(libc::AF_INET | libc::AF_INET6)) && kind == Some(libc::SOCK_STREAM)
    }

    fn get_int(fd: libc::c_int, level: libc::c_int, name: libc::c_int) -> Option<libc::c_int> {
        let mut value: libc::c_int = 0;
        let mut len = size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `value` and `len` are valid for writes of the sizes given;
        // on a descriptor that is not (or no longer) a socket the call fails.
        let rc =
            unsafe { libc::getsockopt(fd, level, name, (&raw mut value).cast(), &raw mut len) };
        (rc == 0).then_some(value)
    }

    fn set_int(fd: libc::c_int, level: libc::c_int, name: libc::c_int, value: libc::c_int) {
        // SAFETY: `value` is valid for reads of the size given; on a
        // descriptor that is not a TCP socket the call fails and changes
        // nothing.
        unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                (&raw const value).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn sets_nodelay_on_open_tcp_sockets_only() {
            use std::os::fd::AsRawFd;
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (server, _) = listener.accept().unwrap();
            let file = tempfile::tempfile().unwrap();
            let (unix, _other) = std::os::unix::net::UnixStream::pair().unwrap();
            assert!(!client.nodelay().unwrap());
            assert!(!server.nodelay().unwrap());
            on_tcp_sockets();
            assert!(client.nodelay().unwrap());
            assert!(server.nodelay().unwrap());
            assert!(!is_tcp(file.as_raw_fd()));
            assert!(!is_tcp(unix.as_raw_fd()));
        }
    }
}
