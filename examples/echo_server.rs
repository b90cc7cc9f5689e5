//! A non-blocking echo server on tunstack's `Poll`: one thread, many
//! clients. Run it in a namespace of its own and talk to it from the
//! kernel side:
//!
//! ```sh
//! sudo scripts/netns.sh cargo run --example echo_server     # creates tun0, serves 10.0.0.2:7
//! sudo ip netns exec tunstack-sh nc 10.0.0.2 7              # (in another terminal)
//! ```

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use tunstack::device::TunConfig;
use tunstack::net::{Config, Events, Interest, Poll, Token};
use tunstack::{Stack, TcpListener, TcpStream};

fn main() -> std::io::Result<()> {
    let stack = Stack::open_tun(&TunConfig::default(), Config::default())?;
    let listener = TcpListener::bind(&stack, ("0.0.0.0", 7))?;
    listener.set_nonblocking(true)?;
    let poll = Poll::new(&stack);
    poll.register(&listener, Token(0), Interest::READABLE)?;
    println!("echo server on {}", listener.local_addr()?);
    let mut clients: HashMap<Token, TcpStream> = HashMap::new();
    let mut next = 1;
    let mut events = Events::with_capacity(256);
    let mut buf = [0u8; 4096];
    loop {
        poll.poll(&mut events, None)?;
        for ev in &events {
            if ev.token() == Token(0) {
                // Accept until WouldBlock: readiness is edge-like.
                loop {
                    match listener.accept() {
                        Ok((s, peer)) => {
                            println!("{peer} connected");
                            s.set_nonblocking(true)?;
                            poll.register(&s, Token(next), Interest::READABLE)?;
                            clients.insert(Token(next), s);
                            next += 1;
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                }
                continue;
            }
            let Some(s) = clients.get(&ev.token()) else {
                continue;
            };
            let mut done = false;
            loop {
                match (&*s).read(&mut buf) {
                    Ok(0) => {
                        done = true;
                        break;
                    }
                    Ok(n) => {
                        // Small echoes: a blocking write_all is fine here.
                        s.set_nonblocking(false)?;
                        (&*s).write_all(&buf[..n])?;
                        s.set_nonblocking(true)?;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => {
                        done = true;
                        break;
                    }
                }
            }
            if done {
                poll.deregister(ev.token())?;
                clients.remove(&ev.token());
            }
        }
    }
}
