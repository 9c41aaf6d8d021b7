//! Where each variant's pixels come from and how big it ends up: pure arithmetic.

use crate::{Fit, VariantSpec};

/// Source crop rectangle and output size for one variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub crop_x: u32,
    pub crop_y: u32,
    pub crop_width: u32,
    pub crop_height: u32,
    pub width: u32,
    pub height: u32,
}

fn scaled(side: u32, factor: f64) -> u32 {
    // Rounded, and never below one pixel. The cast is safe: factor <= 1 keeps it <= side.
    ((f64::from(side) * factor).round() as u32).max(1)
}

/// Plans a `width`×`height` source (display orientation) into `variant`'s box.
pub fn plan(width: u32, height: u32, variant: &VariantSpec) -> Plan {
    let (bw, bh) = (variant.max_width.max(1), variant.max_height.max(1));
    let whole = |w, h| Plan { crop_x: 0, crop_y: 0, crop_width: width, crop_height: height, width: w, height: h };
    match variant.fit {
        Fit::Exact => whole(bw, bh),
        Fit::Contain => {
            let factor = (f64::from(bw) / f64::from(width))
                .min(f64::from(bh) / f64::from(height))
                .min(1.0);
            whole(scaled(width, factor), scaled(height, factor))
        }
        Fit::Cover => {
            // Shrink the box (keeping its aspect) until the source covers it: never enlarge.
            let shrink = (f64::from(width) / f64::from(bw))
                .min(f64::from(height) / f64::from(bh))
                .min(1.0);
            let (out_w, out_h) = (scaled(bw, shrink).min(width), scaled(bh, shrink).min(height));
            // The largest centred source region with the output's aspect ratio.
            let box_aspect = f64::from(out_w) / f64::from(out_h);
            let src_aspect = f64::from(width) / f64::from(height);
            let (crop_w, crop_h) = if src_aspect > box_aspect {
                (((f64::from(height) * box_aspect).round() as u32).clamp(1, width), height)
            } else {
                (width, ((f64::from(width) / box_aspect).round() as u32).clamp(1, height))
            };
            Plan {
                crop_x: (width - crop_w) / 2,
                crop_y: (height - crop_h) / 2,
                crop_width: crop_w,
                crop_height: crop_h,
                width: out_w,
                height: out_h,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OutputFormat;

    fn spec(w: u32, h: u32, fit: Fit) -> VariantSpec {
        VariantSpec { name: "v".into(), max_width: w, max_height: h, fit, format: OutputFormat::Jpeg, quality: 80 }
    }

    #[test]
    fn contain_keeps_aspect_inside_the_box() {
        let p = plan(4000, 3000, &spec(1024, 1024, Fit::Contain));
        assert_eq!((p.width, p.height), (1024, 768));
        assert_eq!((p.crop_width, p.crop_height), (4000, 3000));
        let p = plan(3000, 4000, &spec(1024, 1024, Fit::Contain));
        assert_eq!((p.width, p.height), (768, 1024));
    }

    #[test]
    fn contain_never_enlarges() {
        let p = plan(100, 50, &spec(1024, 1024, Fit::Contain));
        assert_eq!((p.width, p.height), (100, 50));
    }

    #[test]
    fn contain_keeps_at_least_one_pixel() {
        let p = plan(10_000, 1, &spec(128, 128, Fit::Contain));
        assert_eq!((p.width, p.height), (128, 1));
    }

    #[test]
    fn cover_fills_the_box_and_crops_centred() {
        let p = plan(4000, 3000, &spec(256, 256, Fit::Cover));
        assert_eq!((p.width, p.height), (256, 256));
        assert_eq!((p.crop_x, p.crop_y, p.crop_width, p.crop_height), (500, 0, 3000, 3000));
        let p = plan(3000, 4000, &spec(300, 100, Fit::Cover));
        assert_eq!((p.width, p.height), (300, 100));
        assert_eq!((p.crop_x, p.crop_width), (0, 3000));
        assert_eq!((p.crop_y, p.crop_height), (1500, 1000));
    }

    #[test]
    fn cover_shrinks_the_box_for_small_sources() {
        let p = plan(200, 100, &spec(400, 400, Fit::Cover));
        assert_eq!((p.width, p.height), (100, 100));
        assert_eq!((p.crop_x, p.crop_width), (50, 100));
    }

    #[test]
    fn exact_stretches() {
        let p = plan(4000, 3000, &spec(100, 100, Fit::Exact));
        assert_eq!((p.width, p.height), (100, 100));
        assert_eq!((p.crop_width, p.crop_height), (4000, 3000));
    }
}
