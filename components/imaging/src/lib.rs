//! The imaging library alone as a component (`pixelbus:imaging/imaging`): no I/O, no platform,
//! so it runs in any component runtime. The benchmarks load it in wasmtime to compare the same
//! code compiled natively and to wasm32-wasip2; browsers can run it through jco.

#[cfg(target_family = "wasm")]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "pixelbus:imaging/imaging",
        generate_all,
    });
}

#[cfg(target_family = "wasm")]
mod exports {
    use pixelbus_imaging::{Fit, Limits, OutputFormat, VariantSpec};

    use crate::bindings::exports::pixelbus::imaging::resize::Guest;
    use crate::bindings::pixelbus::imaging::types as wit;

    struct Imaging;

    fn fit(fit: wit::Fit) -> Fit {
        match fit {
            wit::Fit::Contain => Fit::Contain,
            wit::Fit::Cover => Fit::Cover,
            wit::Fit::Exact => Fit::Exact,
        }
    }

    fn format_from_wit(format: wit::OutputFormat) -> OutputFormat {
        match format {
            wit::OutputFormat::Jpeg => OutputFormat::Jpeg,
            wit::OutputFormat::Png => OutputFormat::Png,
            wit::OutputFormat::Webp => OutputFormat::Webp,
        }
    }

    fn format_to_wit(format: OutputFormat) -> wit::OutputFormat {
        match format {
            OutputFormat::Jpeg => wit::OutputFormat::Jpeg,
            OutputFormat::Png => wit::OutputFormat::Png,
            OutputFormat::Webp => wit::OutputFormat::Webp,
        }
    }

    impl Guest for Imaging {
        fn render(
            image: Vec<u8>,
            variants: Vec<wit::VariantSpec>,
        ) -> Result<(wit::SourceInfo, Vec<wit::Rendered>), String> {
            let variants: Vec<VariantSpec> = variants
                .into_iter()
                .map(|v| VariantSpec {
                    name: v.name,
                    max_width: v.max_width,
                    max_height: v.max_height,
                    fit: fit(v.fit),
                    format: format_from_wit(v.format),
                    quality: v.quality,
                })
                .collect();
            let (info, rendered) = pixelbus_imaging::render(&image, &variants, &Limits::default())
                .map_err(|e| format!("{}: {e}", e.code()))?;
            let info = wit::SourceInfo {
                format: info.format.as_str().to_string(),
                width: info.width,
                height: info.height,
                bytes: info.bytes,
            };
            let rendered = rendered
                .into_iter()
                .map(|r| wit::Rendered {
                    name: r.name,
                    width: r.width,
                    height: r.height,
                    format: format_to_wit(r.format),
                    data: r.data,
                })
                .collect();
            Ok((info, rendered))
        }
    }

    crate::bindings::export!(Imaging with_types_in crate::bindings);
}
