//! The `resourceType` of each resource as a zero-sized type, so that every resource serialises with its type on
//! its own, and refuses to deserialise from JSON of another type (FHIR R4 JSON format,
//! https://hl7.org/fhir/R4/json.html).

/// Define a zero-sized type that (de)serialises as one fixed `resourceType` string.
macro_rules! resource_type {
    ($name:ident, $value:literal) => {
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct $name;

        impl $name {
            pub const NAME: &'static str = $value;
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str($value)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                if s == $value {
                    Ok($name)
                } else {
                    Err(serde::de::Error::custom(format!(
                        "resourceType {s:?} where {:?} was expected",
                        $value
                    )))
                }
            }
        }
    };
}

pub(crate) use resource_type;
