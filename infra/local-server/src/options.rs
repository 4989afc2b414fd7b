//! Command-line options of the local server.

use std::{net::SocketAddr, path::PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    Memory,
    DynamoDb,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    pub addr: SocketAddr,
    pub store: StoreKind,
    pub outbox: PathBuf,
}

pub const USAGE: &str =
    "usage: local-server [--addr 127.0.0.1:3000] [--store memory|dynamodb] [--outbox ./outbox]";

impl Options {
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut options = Options {
            addr: "127.0.0.1:3000".parse().expect("valid default"),
            store: StoreKind::Memory,
            outbox: PathBuf::from("outbox"),
        };
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                None => (flag.clone(), None),
            };
            if name == "--help" || name == "-h" {
                return Err(USAGE.to_owned());
            }
            let value = inline
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))?;
            match name.as_str() {
                "--addr" => {
                    options.addr = value.parse().map_err(|_| {
                        format!("--addr: {value:?} is not an address like 127.0.0.1:3000")
                    })?
                }
                "--store" => {
                    options.store = match value.as_str() {
                        "memory" => StoreKind::Memory,
                        "dynamodb" => StoreKind::DynamoDb,
                        _ => {
                            return Err(format!(
                                "--store: expected memory or dynamodb, got {value:?}"
                            ))
                        }
                    }
                }
                "--outbox" => options.outbox = PathBuf::from(value),
                _ => return Err(format!("unknown option {name}\n{USAGE}")),
            }
        }
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        Options::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_and_overrides() {
        let o = parse(&[]).unwrap();
        assert_eq!(o.addr.to_string(), "127.0.0.1:3000");
        assert_eq!(o.store, StoreKind::Memory);
        let o = parse(&["--addr", "127.0.0.1:4000", "--store=dynamodb"]).unwrap();
        assert_eq!(o.addr.port(), 4000);
        assert_eq!(o.store, StoreKind::DynamoDb);
    }

    #[test]
    fn mistakes_are_named() {
        assert!(parse(&["--store", "redis"])
            .unwrap_err()
            .contains("--store"));
        assert!(parse(&["--addr"]).unwrap_err().contains("needs a value"));
        assert!(parse(&["--port", "1"])
            .unwrap_err()
            .contains("unknown option --port"));
    }
}
