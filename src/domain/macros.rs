//! `string_enum!`: an enum stored and sent as fixed lowercase or uppercase
//! names (serde, sea-orm, `Display`, `FromStr` with a message naming them).
//! The using module imports `fmt`, `FromStr`, `ValueError`, serde's derives
//! and `DeriveValueType`.

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, DeriveValueType)]
        #[sea_orm(value_type = "String")]
        pub enum $name {
            $(#[serde(rename = $text)] $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ValueError;
            fn from_str(s: &str) -> Result<Self, ValueError> {
                match s.trim() {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(ValueError::new(format!(
                        "{} must be one of: {}",
                        $what,
                        [$($text),+].join(", ")
                    ))),
                }
            }
        }
    };
}
