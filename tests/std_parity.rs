//! std::net parity, checked by the compiler: one program, written against
//! `std::net`'s signatures, is built twice from the same tokens — once with
//! `std::net`'s types over the kernel's loopback, once with tunstack's over
//! two stacks joined by an in-memory pipe — and both builds run and must
//! give the same results. The only difference a port needs is the stack
//! argument of the constructors (docs/porting.md). The program and the
//! refused UDP socket run over IPv4 and IPv6 (`NAME::v4`, `NAME::v6`).

mod common;

use common::{pipe_pair_with, Family};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr};
use std::time::Duration;
use tunstack::device::PipeDevice;
use tunstack::net::Config;
use tunstack::Stack;

/// The program. `$srv` and `$cli` are the constructor prefixes of the
/// serving and the connecting side: nothing for `std::net`, `&stack,` for
/// tunstack. The module `net` is the caller's (`std::net` or
/// `tunstack::net`): macro paths resolve where the macro is used. Sockets
/// bind `$any` (the wildcard of the family under test, a `&str`) and the
/// client reaches `$server_ip`.
macro_rules! std_net_program {
    ([$($srv:tt)*], [$($cli:tt)*], $any:expr, $server_ip:expr) => {{
        // Signatures pinned as std::net has them.
        let _: fn(&net::TcpListener) -> io::Result<net::TcpListener> = net::TcpListener::try_clone;
        let _: fn(&net::TcpListener) -> io::Result<Option<io::Error>> = net::TcpListener::take_error;
        let _: fn(&net::TcpListener, u32) -> io::Result<()> = net::TcpListener::set_ttl;
        let _: fn(&net::UdpSocket, &[u8]) -> io::Result<usize> = net::UdpSocket::send;
        let _: fn(&net::UdpSocket, &mut [u8]) -> io::Result<usize> = net::UdpSocket::recv;
        let _: fn(&net::UdpSocket, &mut [u8]) -> io::Result<usize> = net::UdpSocket::peek;
        let _: fn(&net::UdpSocket, &mut [u8]) -> io::Result<(usize, SocketAddr)> =
            net::UdpSocket::peek_from;
        let _: fn(&net::UdpSocket) -> io::Result<SocketAddr> = net::UdpSocket::peer_addr;
        let _: fn(&net::UdpSocket) -> io::Result<net::UdpSocket> = net::UdpSocket::try_clone;
        let _: fn(&net::UdpSocket, bool) -> io::Result<()> = net::UdpSocket::set_broadcast;
        let _: fn(&net::UdpSocket) -> io::Result<bool> = net::UdpSocket::broadcast;
        let _: fn(&net::UdpSocket) -> io::Result<u32> = net::UdpSocket::ttl;
        let _: fn(&net::UdpSocket) -> io::Result<Option<Duration>> = net::UdpSocket::read_timeout;
        let _: fn(&net::UdpSocket) -> io::Result<Option<Duration>> = net::UdpSocket::write_timeout;
        let _: fn(&net::UdpSocket) -> io::Result<Option<io::Error>> = net::UdpSocket::take_error;

        // TCP: an echo server on a cloned listener, a client by (host, port).
        let any: &str = $any;
        let listener = net::TcpListener::bind($($srv)* (any, 0))?;
        listener.set_ttl(77)?;
        assert_eq!(listener.ttl()?, 77);
        assert!(listener.take_error()?.is_none());
        let port = listener.local_addr()?.port();
        // getsockname: a wildcard listener reports the wildcard, one
        // bound to an address reports that address.
        let wildcard: std::net::IpAddr = any.parse().expect("wildcard");
        assert_eq!(listener.local_addr()?.ip(), wildcard);
        let own = net::TcpListener::bind($($srv)* ($server_ip, 0))?;
        assert_eq!(own.local_addr()?.ip().to_string(), $server_ip);
        let own = net::UdpSocket::bind($($srv)* ($server_ip, 0))?;
        assert_eq!(own.local_addr()?.ip().to_string(), $server_ip);
        let accepting = listener.try_clone()?;
        let server = std::thread::spawn(move || -> io::Result<(Vec<u8>, u32, SocketAddr, SocketAddr)> {
            let (mut s, peer) = accepting.accept()?;
            let mut got = Vec::new();
            s.read_to_end(&mut got)?;
            s.write_all(&got)?;
            s.shutdown(Shutdown::Write)?;
            Ok((got, s.ttl()?, peer, s.local_addr()?))
        });
        let mut c = net::TcpStream::connect($($cli)* ($server_ip, port))?;
        let (c_local, c_peer) = (c.local_addr()?, c.peer_addr()?);
        c.set_nodelay(true)?;
        c.set_read_timeout(Some(Duration::from_secs(20)))?;
        assert_eq!(c.read_timeout()?, Some(Duration::from_secs(20)));
        c.write_all(b"hello, parity")?;
        c.shutdown(Shutdown::Write)?;
        let mut back = Vec::new();
        c.read_to_end(&mut back)?;
        let (got, accepted_ttl, peer, accepted_local) = server.join().expect("server thread")?;
        // Both ends name the same connection.
        assert_eq!(peer, c_local);
        assert_eq!(accepted_local, c_peer);
        assert_eq!(accepted_local.ip().to_string(), $server_ip);
        assert_eq!(got, b"hello, parity");
        assert_eq!(back, b"hello, parity");
        // Accepted sockets inherit the listener's TTL.
        assert_eq!(accepted_ttl, 77);

        // UDP: a connected client, peeks, a clone, the options.
        let a = net::UdpSocket::bind($($srv)* (any, 0))?;
        let b = net::UdpSocket::bind($($cli)* (any, 0))?;
        let a_port = a.local_addr()?.port();
        assert_eq!(a.local_addr()?.ip(), wildcard);
        assert_eq!(b.local_addr()?.ip(), wildcard);
        assert!(b.peer_addr().is_err());
        b.connect(($server_ip, a_port))?;
        // Connected, a wildcard socket reports the source address chosen.
        assert!(!b.local_addr()?.ip().is_unspecified());
        assert_eq!(a.local_addr()?.ip(), wildcard);
        assert_eq!(b.peer_addr()?.port(), a_port);
        b.set_read_timeout(Some(Duration::from_secs(20)))?;
        a.set_read_timeout(Some(Duration::from_secs(20)))?;
        b.send(b"ping")?;
        let mut buf = [0u8; 64];
        let (n, peeked_from) = a.peek_from(&mut buf)?;
        assert_eq!(&buf[..n], b"ping");
        let (n, from) = a.recv_from(&mut buf)?;
        assert_eq!((&buf[..n], from), (&b"ping"[..], peeked_from));
        a.send_to(b"pong", from)?;
        let n = b.peek(&mut buf)?;
        assert_eq!(&buf[..n], b"pong");
        let n = b.recv(&mut buf)?;
        assert_eq!(&buf[..n], b"pong");
        let b2 = b.try_clone()?;
        b2.send(b"again")?;
        let (n, _) = a.recv_from(&mut buf)?;
        assert_eq!(&buf[..n], b"again");
        assert!(!b.broadcast()?);
        b.set_broadcast(true)?;
        assert!(b2.broadcast()?, "a clone shares the socket's options");
        b.set_ttl(9)?;
        assert_eq!(b.ttl()?, 9);
        assert_eq!(b.write_timeout()?, None);
        b.set_write_timeout(Some(Duration::from_secs(3)))?;
        assert_eq!(b2.write_timeout()?, Some(Duration::from_secs(3)));
        assert!(b.take_error()?.is_none());
        io::Result::Ok((got, from == b.local_addr()?))
    }};
}

fn the_same_program_runs_on_std_net_and_on_tunstack(f: Family) {
    let (any, loopback) = match f {
        Family::V4 => ("0.0.0.0", "127.0.0.1"),
        Family::V6 => ("::", "::1"),
    };
    let with_std = {
        use std::net;
        (|| std_net_program!([], [], any, loopback))()
    }
    .expect("std::net build");

    let (client, server) = pipe_pair_with(|_| {});
    let server_ip = f.kernel().to_string();
    let with_tunstack = {
        use tunstack::net;
        (|| std_net_program!([&server,], [&client,], any, server_ip.as_str()))()
    }
    .expect("tunstack build");
    assert_eq!(with_std, with_tunstack);
    assert!(
        with_tunstack.1,
        "the datagram came from the client's address"
    );
}

#[test]
fn bind_takes_only_the_stacks_own_address_or_the_wildcard() {
    let (da, _db) = PipeDevice::pair(1500).unwrap();
    let s = Stack::new(
        da,
        Config {
            addr: Ipv4Addr::new(10, 0, 0, 2),
            ..Config::default()
        },
    )
    .unwrap();
    let own = tunstack::TcpListener::bind(&s, "10.0.0.2:7000").unwrap();
    assert_eq!(own.local_addr().unwrap().to_string(), "10.0.0.2:7000");
    let e = tunstack::TcpListener::bind(&s, "10.0.0.9:7001").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::AddrNotAvailable);
    // IPv6: not ours is refused as on Linux; the stack's own IPv6 address
    // (fd00::2 by default) takes IPv6 only, the IPv6 wildcard both.
    let e = tunstack::UdpSocket::bind(&s, "[::1]:53").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::AddrNotAvailable);
    let v6 = tunstack::TcpListener::bind(&s, "[fd00::2]:7004").unwrap();
    assert!(v6.only_v6().unwrap());
    assert_eq!(v6.local_addr().unwrap().to_string(), "[fd00::2]:7004");
    let any = tunstack::TcpListener::bind(&s, "[::]:7005").unwrap();
    assert!(!any.only_v6().unwrap());
    let u6 = tunstack::UdpSocket::bind(&s, "[::]:0").unwrap();
    assert_ne!(u6.local_addr().unwrap().port(), 0);
    assert!(u6.local_addr().unwrap().ip().is_unspecified() && u6.local_addr().unwrap().is_ipv6());
    let u6 = tunstack::UdpSocket::bind(&s, "[fd00::2]:0").unwrap();
    assert_eq!(u6.local_addr().unwrap().ip().to_string(), "fd00::2");
    assert_eq!(any.local_addr().unwrap().to_string(), "[::]:7005");
    // Several candidates: the first that binds wins, as in std.
    let many = [
        "10.0.0.9:7002".parse::<SocketAddr>().unwrap(),
        "0.0.0.0:7003".parse().unwrap(),
    ];
    let l = tunstack::TcpListener::bind(&s, &many[..]).unwrap();
    assert_eq!(l.local_addr().unwrap().port(), 7003);
}

#[test]
fn udp_broadcast_needs_set_broadcast_and_connected_socket_filters_peers() {
    let (da, db) = PipeDevice::pair(1500).unwrap();
    let mk = |d, addr| {
        Stack::new(
            d,
            Config {
                addr,
                prefix_len: 24,
                ..Config::default()
            },
        )
        .unwrap()
    };
    let a = mk(da, Ipv4Addr::new(10, 0, 0, 2));
    let b = mk(db, Ipv4Addr::new(10, 0, 0, 1));
    let u = tunstack::UdpSocket::bind(&a, "0.0.0.0:0").unwrap();
    let e = u.send_to(b"x", "255.255.255.255:9").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
    let e = u.send_to(b"x", "10.0.0.255:9").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
    u.set_broadcast(true).unwrap();
    assert_eq!(u.send_to(b"x", "10.0.0.255:9").unwrap(), 1);

    // A connected socket hears only its peer.
    let peer = tunstack::UdpSocket::bind(&b, "0.0.0.0:0").unwrap();
    let stranger = tunstack::UdpSocket::bind(&b, "0.0.0.0:0").unwrap();
    let to_u = ("10.0.0.2", u.local_addr().unwrap().port());
    stranger.send_to(b"not for you", to_u).unwrap();
    u.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = [0u8; 32];
    // Queued (peeking leaves it) before the socket connects.
    let (n, from) = u.peek_from(&mut buf).unwrap();
    assert_eq!(
        (&buf[..n], from),
        (
            &b"not for you"[..],
            SocketAddr::from((
                Ipv4Addr::new(10, 0, 0, 1),
                stranger.local_addr().unwrap().port()
            ))
        )
    );
    u.connect(("10.0.0.1", peer.local_addr().unwrap().port()))
        .unwrap();
    peer.send_to(b"for you", to_u).unwrap();
    let n = u.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"for you");
}

fn udp_port_unreachable_is_refused_on_a_connected_socket(f: Family) {
    let (a, _b) = pipe_pair_with(|_| {});
    let u = tunstack::UdpSocket::bind(&a, f.any(0)).unwrap();
    // Nobody listens on B's port 9: B answers ICMP (or ICMPv6) port
    // unreachable.
    u.connect(f.kernel_at(9)).unwrap();
    u.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    u.send(b"anyone?").unwrap();
    let mut buf = [0u8; 8];
    let e = u.recv(&mut buf).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
    // Reported once, as Linux's SO_ERROR.
    assert!(u.take_error().unwrap().is_none());
    u.send(b"again?").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let e = loop {
        if let Some(e) = u.take_error().unwrap() {
            break e;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no ICMP error reported"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
}

per_family!(
    the_same_program_runs_on_std_net_and_on_tunstack,
    udp_port_unreachable_is_refused_on_a_connected_socket,
);
