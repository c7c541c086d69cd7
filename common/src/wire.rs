//! Codes with a stable wire name: [`wire_codes!`] declares an enum whose variants each carry the
//! snake-case name that outside programs see (dead-letter reasons, metrics labels, report keys),
//! with `as_str`, `ALL`, `FromStr`, equality with the name, the name's order and serde as that
//! name, so a counter keyed by the enum reads
//! back what an earlier release stored as text.

/// Declares `enum $name { Variant => "wire_name", ... }` with its wire names (see the module).
#[macro_export]
macro_rules! wire_codes {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every code, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable wire name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// Codes sort by their wire names, so maps keyed by them list as maps keyed by the names did.
        impl Ord for $name {
            fn cmp(&self, other: &$name) -> ::std::cmp::Ordering {
                self.as_str().cmp(other.as_str())
            }
        }

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &$name) -> Option<::std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        /// A code is equal to its wire name.
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = String;

            fn from_str(text: &str) -> Result<$name, String> {
                $name::ALL.iter().copied().find(|c| c.as_str() == text).ok_or_else(|| {
                    let known: Vec<&str> = $name::ALL.iter().map(|c| c.as_str()).collect();
                    format!("unknown {} {text:?}: known are {}", stringify!($name), known.join(", "))
                })
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let text = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                text.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    wire_codes! {
        enum Code {
            First => "first",
            SecondOne => "second_one",
        }
    }

    wire_codes! {
        enum Zed {
            Omega => "omega",
            Alpha => "zz_alpha",
        }
    }

    #[test]
    fn a_code_is_its_wire_name_both_ways() {
        assert_eq!(Code::ALL, [Code::First, Code::SecondOne]);
        assert_eq!(Code::SecondOne, "second_one");
        assert_eq!(serde_json::to_string(&Code::SecondOne).unwrap(), r#""second_one""#);
        assert_eq!(serde_json::from_str::<Code>(r#""first""#).unwrap(), Code::First);
        let map: std::collections::BTreeMap<Code, u64> = serde_json::from_str(r#"{"second_one":2,"first":1}"#).unwrap();
        assert_eq!(serde_json::to_string(&map).unwrap(), r#"{"first":1,"second_one":2}"#);
        assert!(Zed::Alpha > Zed::Omega, "in the order of the names, not of the declaration");
        let unknown = serde_json::from_str::<Code>(r#""third""#).unwrap_err().to_string();
        assert!(unknown.contains("unknown Code \"third\": known are first, second_one"), "{unknown}");
    }
}
