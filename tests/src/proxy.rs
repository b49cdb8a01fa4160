//! A TCP proxy a test puts between the server and its database, so that it can take the
//! database away ([`FaultProxy::cut`]: every connection dropped, new ones refused) and bring it
//! back ([`FaultProxy::restore`]) while the server runs.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex, PoisonError},
};

use anyhow::Context;
use tokio::{
    io::copy_bidirectional,
    net::{TcpListener, TcpSocket, TcpStream},
    task::JoinHandle,
};

/// The proxy: listens on a port of 127.0.0.1 and forwards each connection to the target.
pub struct FaultProxy {
    address: SocketAddr,
    target: SocketAddr,
    running: tokio::sync::Mutex<Option<Running>>,
}

/// The accepting task and the connections it forwards.
struct Running {
    accept: JoinHandle<()>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl FaultProxy {
    /// Starts forwarding a free port of 127.0.0.1 to `target`.
    pub async fn start(target: SocketAddr) -> anyhow::Result<Self> {
        let listener = listen("127.0.0.1:0".parse()?)?;
        let address = listener.local_addr()?;
        Ok(FaultProxy {
            address,
            target,
            running: tokio::sync::Mutex::new(Some(forward(listener, target))),
        })
    }

    /// Where the proxy listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `url` (a `postgres://` URL) with its host and port replaced by the proxy's.
    pub fn route(&self, url: &str) -> String {
        let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
            return url.to_owned();
        };
        let rest = &url[scheme_end..];
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        let user = authority.rfind('@').map_or("", |at| &authority[..=at]);
        format!(
            "{}{user}{}{}",
            &url[..scheme_end],
            self.address,
            &rest[authority_end..]
        )
    }

    /// Takes the database away: stops listening, so new connections are refused, and closes
    /// every connection it forwards. When this returns, all of them are closed.
    pub async fn cut(&self) {
        let Some(running) = self.running.lock().await.take() else {
            return;
        };
        running.accept.abort();
        let _ = running.accept.await;
        let connections = std::mem::take(
            &mut *running
                .connections
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for connection in connections {
            connection.abort();
            let _ = connection.await;
        }
    }

    /// Brings the database back: listens on the same port again.
    pub async fn restore(&self) -> anyhow::Result<()> {
        let mut running = self.running.lock().await;
        if running.is_none() {
            let listener = listen(self.address)
                .with_context(|| format!("listening on {} again", self.address))?;
            *running = Some(forward(listener, self.target));
        }
        Ok(())
    }
}

/// A listener on `address` that may take a port back at once (the connections just closed on
/// it are still in TIME_WAIT).
fn listen(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(128)
}

fn forward(listener: TcpListener, target: SocketAddr) -> Running {
    let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
    let tracked = connections.clone();
    let accept = tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let connection = tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(target).await {
                    let _ = copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
            let mut all = tracked.lock().unwrap_or_else(PoisonError::into_inner);
            all.retain(|c| !c.is_finished());
            all.push(connection);
        }
    });
    Running {
        accept,
        connections,
    }
}

/// The address of the PostgreSQL server `TEST_POSTGRES_URL` names (port 5432 unless given).
pub async fn postgres_address() -> anyhow::Result<SocketAddr> {
    let url = std::env::var("TEST_POSTGRES_URL").context("TEST_POSTGRES_URL")?;
    let rest = url
        .split_once("://")
        .map(|(_, rest)| rest)
        .context("TEST_POSTGRES_URL has no scheme")?;
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let host_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    tokio::net::lookup_host(&host_port)
        .await?
        .find(SocketAddr::is_ipv4)
        .with_context(|| format!("{host_port} has no IPv4 address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn urls_are_routed_through_the_proxy() {
        let proxy = FaultProxy::start("127.0.0.1:9".parse().unwrap())
            .await
            .unwrap();
        let port = proxy.address().port();
        assert_eq!(
            proxy.route("postgres://postgres@127.0.0.1:5432/t1"),
            format!("postgres://postgres@127.0.0.1:{port}/t1")
        );
        assert_eq!(
            proxy.route("postgres://u:p@db.example/t1?sslmode=disable"),
            format!("postgres://u:p@127.0.0.1:{port}/t1?sslmode=disable")
        );
        assert_eq!(
            proxy.route("postgres://localhost"),
            format!("postgres://127.0.0.1:{port}")
        );
    }

    #[tokio::test]
    async fn a_cut_drops_connections_and_refuses_new_ones_until_restored() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = echo.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = echo.accept().await {
                tokio::spawn(async move {
                    let (mut read, mut write) = stream.split();
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                });
            }
        });
        let proxy = FaultProxy::start(target).await.unwrap();
        let mut client = TcpStream::connect(proxy.address()).await.unwrap();
        client.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");

        proxy.cut().await;
        let mut rest = Vec::new();
        let closed = client.read_to_end(&mut rest).await;
        assert!(
            closed.is_err() || rest.is_empty(),
            "the connection is closed"
        );
        assert!(TcpStream::connect(proxy.address()).await.is_err());

        proxy.restore().await.unwrap();
        let mut client = TcpStream::connect(proxy.address()).await.unwrap();
        client.write_all(b"back").await.unwrap();
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"back");
    }
}
