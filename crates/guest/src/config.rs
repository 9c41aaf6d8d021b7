//! Component settings, read from wasi:config (link or component config in the manifest).
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `variants` | thumb 128, small 480, medium 1024 | JSON list of variant specs |
//! | `max_bytes` | 26214400 (25 MiB) | largest accepted image |
//! | `max_pixels` | 50000000 | largest accepted width×height |
//! | `max_dimension` | 16384 | largest accepted side |
//! | `max_attempts` | 3 | processing attempts before a job fails for good |

use pixelbus_imaging::{default_variants, Limits, VariantSpec};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub variants: Vec<VariantSpec>,
    pub limits: Limits,
    pub max_attempts: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError(pub String);

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Settings {
    /// Settings from config key/value pairs; unknown keys are ignored, bad values are errors.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Settings, SettingsError> {
        let mut settings = Settings {
            variants: default_variants(),
            limits: Limits::default(),
            max_attempts: 3,
        };
        for (key, value) in pairs {
            let number = || {
                value
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| SettingsError(format!("config {key}={value:?} is not a whole number")))
            };
            match key {
                "variants" => {
                    let variants: Vec<VariantSpec> = serde_json::from_str(value)
                        .map_err(|e| SettingsError(format!("config variants is not a JSON list of variant specs: {e}")))?;
                    for v in &variants {
                        v.validate().map_err(|e| SettingsError(format!("config variants: {e}")))?;
                    }
                    if variants.is_empty() {
                        return Err(SettingsError("config variants is empty".into()));
                    }
                    settings.variants = variants;
                }
                "max_bytes" => settings.limits.max_bytes = number()?,
                "max_pixels" => settings.limits.max_pixels = number()?,
                "max_dimension" => {
                    settings.limits.max_dimension = u32::try_from(number()?)
                        .map_err(|_| SettingsError(format!("config max_dimension={value} is too large")))?;
                }
                "max_attempts" => {
                    settings.max_attempts = u32::try_from(number()?).unwrap_or(u32::MAX).max(1);
                }
                _ => {}
            }
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_without_config() {
        let s = Settings::from_pairs([]).expect("defaults");
        assert_eq!(s.variants, default_variants());
        assert_eq!(s.limits, Limits::default());
        assert_eq!(s.max_attempts, 3);
    }

    #[test]
    fn values_are_read() {
        let s = Settings::from_pairs([
            ("variants", r#"[{"name":"tiny","max_width":16,"max_height":16}]"#),
            ("max_bytes", "1000"),
            ("max_dimension", "2048"),
            ("max_attempts", "5"),
            ("unrelated", "x"),
        ])
        .expect("parses");
        assert_eq!(s.variants[0].name, "tiny");
        assert_eq!((s.limits.max_bytes, s.limits.max_dimension, s.max_attempts), (1000, 2048, 5));
    }

    #[test]
    fn bad_values_are_named() {
        for (k, v) in [("max_bytes", "lots"), ("variants", "[]"), ("variants", "{"), ("variants", r#"[{"name":"A","max_width":1,"max_height":1}]"#)] {
            let err = Settings::from_pairs([(k, v)]).expect_err("refused");
            assert!(err.0.contains(k), "{err}");
        }
    }
}
