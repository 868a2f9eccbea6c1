//! Whether an address is one a clone may reach without an allow-list: globally reachable
//! by the IANA special-purpose registries (`ip_network` keeps them), and for IPv6 forms
//! that carry an IPv4 address (mapped, compatible, NAT64, 6to4), the address they reach.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ip_network::{Ipv4Network, Ipv6Network};

/// Not loopback, private, link-local, shared, benchmarking, reserved, documentation or any
/// other special-purpose range, however the address is spelled.
pub fn is_public(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(*v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Embedded::V4(v4) => is_public_v4(v4),
            Embedded::Opaque => false,
            Embedded::None => Ipv6Network::from(*v6).is_global() && !special_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    Ipv4Network::from(ip).is_global() && !ip.is_multicast()
}

enum Embedded {
    /// The IPv4 address this IPv6 address reaches.
    V4(Ipv4Addr),
    /// A tunnel or translation whose destination cannot be read from the address.
    Opaque,
    None,
}

fn embedded_v4(ip: &Ipv6Addr) -> Embedded {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, deprecated).
        [0, 0, 0, 0, 0, 0xffff, ..] | [0, 0, 0, 0, 0, 0, ..] => Embedded::V4(tail),
        // NAT64 well-known prefix, 64:ff9b::/96: a DNS64 network gives these for every
        // IPv4-only host, so the IPv4 address decides.
        [0x64, 0xff9b, 0, 0, 0, 0, ..] => Embedded::V4(tail),
        // 6to4, 2002:a.b.c.d::/48: the relay delivers to a.b.c.d.
        [0x2002, hi, lo, ..] => Embedded::V4(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        // Local-use NAT64 (64:ff9b:1::/48) translates into private networks.
        [0x64, 0xff9b, 1, ..] => Embedded::Opaque,
        _ => Embedded::None,
    }
}

/// IPv6 special-purpose blocks `ip_network`'s global test leaves open: the IETF protocol
/// block 2001::/23 (Teredo, benchmarking, ORCHID), discard-only 100::/64, the newer
/// documentation block 3fff::/20 and SRv6 SIDs 5f00::/16.
fn special_v6(ip: &Ipv6Addr) -> bool {
    let s = ip.segments();
    (s[0] == 0x2001 && s[1] < 0x0200)
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0])
        || (s[0] == 0x3fff && s[1] < 0x1000)
        || s[0] == 0x5f00
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_purpose_addresses_are_not_public_however_spelled() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "198.18.0.1",
            "198.19.255.254",
            "192.0.0.8",
            "192.0.2.1",
            "240.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "3fff::1",
            "2001::1",
            "2001:2::1",
            "100::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::c612:1",
            "64:ff9b:1::8.8.8.8",
            "2002:7f00:1::",
            "2002:a00:1::1",
            "2002:c0a8:101::",
        ] {
            let ip: IpAddr = private.parse().unwrap();
            assert!(!is_public(&ip), "{private} counted as public");
        }
        for public in [
            "140.82.112.3",
            "8.8.8.8",
            "192.0.0.9",
            "2606:4700::1111",
            "2a00:1450:4001::1",
            "::ffff:140.82.112.3",
            "64:ff9b::8c52:7003",
            "2002:808:808::1",
        ] {
            let ip: IpAddr = public.parse().unwrap();
            assert!(is_public(&ip), "{public} counted as private");
        }
    }
}
