//! Packet specs for `svcc trace --to`: `10.96.0.10:53/udp`, `[fd00:10:96::a]:443/tcp`, parsed
//! with nom. The protocol defaults to TCP when left out (`10.96.0.10:80`).

use crate::plan::Protocol;
use nom::branch::alt;
use nom::bytes::complete::{tag, take_while1};
use nom::character::complete::{char, digit1};
use nom::combinator::{all_consuming, map_res, opt};
use nom::sequence::{delimited, preceded};
use nom::{IResult, Parser};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketSpec {
    pub ip: IpAddr,
    pub port: u16,
    pub protocol: Protocol,
}

impl std::fmt::Display for PacketSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}",
            std::net::SocketAddr::new(self.ip, self.port),
            self.protocol.as_str()
        )
    }
}

fn ipv4(i: &str) -> IResult<&str, IpAddr> {
    map_res(
        take_while1(|c: char| c.is_ascii_digit() || c == '.'),
        |s: &str| s.parse::<Ipv4Addr>().map(IpAddr::V4),
    )
    .parse(i)
}

fn ipv6(i: &str) -> IResult<&str, IpAddr> {
    delimited(
        char('['),
        map_res(
            take_while1(|c: char| c.is_ascii_hexdigit() || c == ':' || c == '.'),
            |s: &str| s.parse::<Ipv6Addr>().map(IpAddr::V6),
        ),
        char(']'),
    )
    .parse(i)
}

fn protocol(i: &str) -> IResult<&str, Protocol> {
    alt((
        tag("tcp").map(|_| Protocol::Tcp),
        tag("udp").map(|_| Protocol::Udp),
        tag("sctp").map(|_| Protocol::Sctp),
        tag("TCP").map(|_| Protocol::Tcp),
        tag("UDP").map(|_| Protocol::Udp),
        tag("SCTP").map(|_| Protocol::Sctp),
    ))
    .parse(i)
}

fn spec(i: &str) -> IResult<&str, PacketSpec> {
    let (i, ip) = alt((ipv6, ipv4)).parse(i)?;
    let (i, port) = preceded(char(':'), map_res(digit1, str::parse::<u16>)).parse(i)?;
    let (i, protocol) = opt(preceded(char('/'), protocol)).parse(i)?;
    Ok((
        i,
        PacketSpec {
            ip,
            port,
            protocol: protocol.unwrap_or(Protocol::Tcp),
        },
    ))
}

/// Parses `IP:PORT[/PROTO]` (IPv6 in brackets).
pub fn parse(text: &str) -> Result<PacketSpec, String> {
    all_consuming(spec)
        .parse(text.trim())
        .map(|(_, s)| s)
        .map_err(|_| {
            format!("invalid packet `{text}`: expected IP:PORT/PROTO, e.g. 10.96.0.10:53/udp or [fd00::a]:443/tcp")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets() {
        let p = parse("10.96.0.10:53/udp").unwrap();
        assert_eq!((p.port, p.protocol), (53, Protocol::Udp));
        let p = parse("[fd00:10:96::a]:443/tcp").unwrap();
        assert!(p.ip.is_ipv6());
        assert_eq!(parse("10.0.0.1:80").unwrap().protocol, Protocol::Tcp);
        for bad in [
            "10.0.0.1",
            "10.0.0.1:99999/tcp",
            "fd00::1:80",
            "10.0.0.1:80/icmp",
            "010.0.0.1:80",
            "x:80",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
