//! Where a viewer is: country and city from a MaxMind-format database
//! (`--geoip-db`, GeoLite2-City or compatible). Without one, both are unknown.

use std::net::IpAddr;
use std::path::Path;

use anyhow::Context;

/// An opened location database.
pub struct GeoIp {
    reader: maxminddb::Reader<Vec<u8>>,
}

/// A viewer's location, as far as the database knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// ISO 3166-1 alpha-2, e.g. `US`.
    pub country: Option<String>,
    /// The city's English name.
    pub city: Option<String>,
}

impl GeoIp {
    pub fn open(path: &Path) -> anyhow::Result<GeoIp> {
        let reader = maxminddb::Reader::open_readfile(path)
            .with_context(|| format!("cannot read the GeoIP database {}", path.display()))?;
        Ok(GeoIp { reader })
    }

    /// The location of `ip`; empty when the database has no entry for it.
    pub fn locate(&self, ip: IpAddr) -> Location {
        match self.reader.lookup::<maxminddb::geoip2::City>(ip) {
            Ok(Some(city)) => Location {
                country: city.country.and_then(|c| c.iso_code).map(str::to_owned),
                city: city
                    .city
                    .and_then(|c| c.names)
                    .and_then(|names| names.get("en").map(|n| (*n).to_owned())),
            },
            _ => Location::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_networks_have_a_country_and_city() {
        let geo =
            GeoIp::open(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/test-city.mmdb")))
                .unwrap();
        let sf = geo.locate("203.0.113.9".parse().unwrap());
        assert_eq!(sf, Location { country: Some("US".into()), city: Some("San Francisco".into()) });
        assert_eq!(geo.locate("198.51.100.1".parse().unwrap()).city.as_deref(), Some("Berlin"));
        assert_eq!(geo.locate("192.0.2.1".parse().unwrap()), Location::default());
    }

    #[test]
    fn a_missing_database_is_a_clear_error() {
        let err = GeoIp::open(Path::new("/nonexistent/city.mmdb")).err().unwrap();
        assert!(format!("{err:#}").contains("cannot read the GeoIP database"));
    }
}
