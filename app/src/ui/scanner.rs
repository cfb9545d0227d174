//! The camera barcode scanner: a button that opens the phone's back camera
//! and reports the first GTIN it sees. Where the browser has
//! `BarcodeDetector` (Android, macOS, ChromeOS) it reads the frames; where
//! it has not, a Web Worker (`/scanner-worker.js`) reads them with rxing
//! compiled to WASM. That worker and its WASM are fetched when the scanner
//! first opens, never with the page.

use leptos::prelude::*;

use crate::catalog::model::Gtin;

#[component]
pub fn BarcodeScanner(
    /// Called with the GTIN read; the scanner has closed by then.
    #[prop(into)]
    on_scan: Callback<Gtin>,
    #[prop(default = "Scan a barcode")] label: &'static str,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let status = RwSignal::new(None::<String>);
    let found = RwSignal::new(None::<Gtin>);
    let video = NodeRef::<leptos::html::Video>::new();
    #[cfg(feature = "hydrate")]
    {
        let session = StoredValue::new_local(None::<live::Session>);
        Effect::new(move |_| {
            if !open.get() {
                session.set_value(None);
                return;
            }
            let Some(element) = video.get() else { return };
            status.set(Some("Starting the camera…".into()));
            leptos::task::spawn_local(async move {
                match live::start(element, found, status).await {
                    // Closed while the camera was starting: stop it now.
                    Ok(s) if !open.get_untracked() => drop(s),
                    Ok(s) => {
                        status.set(None);
                        session.set_value(Some(s));
                    }
                    Err(e) => status.set(Some(e)),
                }
            });
        });
        on_cleanup(move || session.set_value(None));
    }
    // A read lands here from a camera callback; closing and reporting
    // happen outside it.
    Effect::new(move |_| {
        if let Some(gtin) = found.get() {
            found.set(None);
            open.set(false);
            on_scan.run(gtin);
        }
    });
    view! {
        <button type="button" class="button scan-button" on:click=move |_| { status.set(None); open.set(true); }>
            <span class="scan-icon" aria-hidden="true"></span>{label}
        </button>
        <Show when=move || open.get()>
            <div class="scanner" role="dialog" aria-modal="true" aria-label="Barcode scanner"
                on:keydown=move |ev| if ev.key() == "Escape" { open.set(false) }>
                <div class="scanner-view">
                    <video node_ref=video class="scanner-video" autoplay=true muted=true playsinline=true></video>
                    <div class="scanner-frame" aria-hidden="true"></div>
                </div>
                <p class="scanner-status" role="status" data-testid="scanner-status">
                    {move || status.get().unwrap_or_else(|| "Hold the barcode inside the frame.".into())}
                </p>
                <button type="button" class="button scanner-close" on:click=move |_| open.set(false)>"Close"</button>
            </div>
        </Show>
    }
}

#[cfg(feature = "hydrate")]
mod live {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    use leptos::prelude::*;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;
    use web_sys::js_sys::{self, Array, Object, Reflect};

    use crate::catalog::model::Gtin;

    /// How often a frame is read; the next waits for the last to finish.
    const EVERY_MS: i32 = 200;
    /// Frames are scaled to this width for the worker: enough for an
    /// EAN-13 that fills a third of the view, and quick to read.
    const WORKER_WIDTH: u32 = 960;
    const FORMATS: [&str; 6] = ["ean_13", "ean_8", "upc_a", "upc_e", "code_128", "qr_code"];

    /// An open camera and what reads its frames; dropping it stops both.
    pub struct Session {
        stream: web_sys::MediaStream,
        video: web_sys::HtmlVideoElement,
        worker: Option<web_sys::Worker>,
        timer: i32,
        _tick: Closure<dyn FnMut()>,
        _reply: Option<Closure<dyn FnMut(web_sys::MessageEvent)>>,
    }

    impl Drop for Session {
        fn drop(&mut self) {
            if let Some(w) = web_sys::window() {
                w.clear_interval_with_handle(self.timer);
            }
            for track in self.stream.get_tracks().iter() {
                if let Ok(t) = track.dyn_into::<web_sys::MediaStreamTrack>() {
                    t.stop();
                }
            }
            self.video.set_src_object(None);
            if let Some(w) = &self.worker {
                w.terminate();
            }
        }
    }

    fn message(e: JsValue) -> String {
        e.dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .or_else(|| e.as_string())
            .unwrap_or_else(|| "unknown error".into())
    }

    fn set(target: &JsValue, key: &str, value: &JsValue) {
        let _ = Reflect::set(target, &key.into(), value);
    }

    /// The browser's own detector, when it reads the formats we need.
    async fn native_detector(window: &web_sys::Window) -> Option<JsValue> {
        let class = Reflect::get(window, &"BarcodeDetector".into()).ok()?;
        let class: js_sys::Function = class.dyn_into().ok()?;
        let supported = Reflect::get(&class, &"getSupportedFormats".into())
            .ok()?
            .dyn_into::<js_sys::Function>()
            .ok()?
            .call0(&class)
            .ok()?;
        let supported: Array = JsFuture::from(js_sys::Promise::from(supported))
            .await
            .ok()?
            .into();
        let formats: Array = FORMATS
            .iter()
            .filter(|f| supported.includes(&JsValue::from_str(f), 0))
            .map(|f| JsValue::from_str(f))
            .collect();
        if !formats.includes(&"ean_13".into(), 0) {
            return None;
        }
        let options = Object::new();
        set(&options, "formats", &formats);
        Reflect::construct(&class, &Array::of1(&options)).ok()
    }

    pub async fn start(
        video: web_sys::HtmlVideoElement,
        found: RwSignal<Option<Gtin>>,
        status: RwSignal<Option<String>>,
    ) -> Result<Session, String> {
        let window = web_sys::window().ok_or("no window")?;
        let devices = window.navigator().media_devices().map_err(|_| {
            "This browser cannot use a camera here (it needs a secure https:// address)."
                .to_string()
        })?;
        let constraints = web_sys::MediaStreamConstraints::new();
        let wanted = Object::new();
        set(&wanted, "facingMode", &"environment".into());
        let width = Object::new();
        set(&width, "ideal", &1280.into());
        set(&wanted, "width", &width);
        constraints.set_video(&wanted);
        let stream = JsFuture::from(
            devices
                .get_user_media_with_constraints(&constraints)
                .map_err(message)?,
        )
        .await
        .map_err(|e| {
            format!(
                "Larder could not use the camera ({}). Allow camera access, or type the barcode.",
                message(e)
            )
        })?;
        let stream: web_sys::MediaStream = stream.unchecked_into();
        video.set_src_object(Some(&stream));
        let _ = video.play();

        let detector = native_detector(&window).await;
        let busy = Rc::new(Cell::new(false));
        let report = move |format: &str, text: &str| {
            if let Some(gtin) = Gtin::from_symbol(format, text) {
                found.set(Some(gtin));
            } else {
                status.set(Some(format!(
                    "That code ({text}) is not a product barcode."
                )));
            }
        };
        let (worker, reply) = if detector.is_some() {
            (None, None)
        } else {
            let options = web_sys::WorkerOptions::new();
            options.set_type(web_sys::WorkerType::Module);
            let worker = web_sys::Worker::new_with_options("/scanner-worker.js", &options)
                .map_err(message)?;
            let done = busy.clone();
            let reply = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
                move |event: web_sys::MessageEvent| {
                    done.set(false);
                    let data = event.data();
                    if let Some(error) = Reflect::get(&data, &"error".into())
                        .ok()
                        .and_then(|e| e.as_string())
                    {
                        status.set(Some(format!("The barcode reader stopped: {error}")));
                        return;
                    }
                    if let Some(read) = Reflect::get(&data, &"found".into())
                        .ok()
                        .and_then(|f| f.as_string())
                    {
                        if let Some((format, text)) = read.split_once('\t') {
                            report(format, text);
                        }
                    }
                },
            );
            worker.set_onmessage(Some(reply.as_ref().unchecked_ref()));
            (Some(worker), Some(reply))
        };

        let document = window.document().ok_or("no document")?;
        let canvas: web_sys::HtmlCanvasElement = document
            .create_element("canvas")
            .map_err(message)?
            .unchecked_into();
        let context = RefCell::new(None::<web_sys::CanvasRenderingContext2d>);
        let worker_for_tick = worker.clone();
        let frame_video = video.clone();
        let tick = Closure::<dyn FnMut()>::new(move || {
            let (w, h) = (frame_video.video_width(), frame_video.video_height());
            if busy.get() || w == 0 || h == 0 {
                return;
            }
            busy.set(true);
            if let Some(detector) = &detector {
                let done = busy.clone();
                let detect = Reflect::get(detector, &"detect".into())
                    .ok()
                    .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
                    .and_then(|f| f.call1(detector, &frame_video).ok());
                let Some(promise) = detect else {
                    busy.set(false);
                    return;
                };
                leptos::task::spawn_local(async move {
                    if let Ok(codes) = JsFuture::from(js_sys::Promise::from(promise)).await {
                        let codes: Array = codes.into();
                        if let Some(first) = codes.iter().next() {
                            let text = Reflect::get(&first, &"rawValue".into())
                                .ok()
                                .and_then(|v| v.as_string());
                            let format = Reflect::get(&first, &"format".into())
                                .ok()
                                .and_then(|v| v.as_string());
                            if let (Some(text), Some(format)) = (text, format) {
                                report(&format.to_uppercase(), &text);
                            }
                        }
                    }
                    done.set(false);
                });
                return;
            }
            let Some(worker) = &worker_for_tick else {
                return;
            };
            let scale = (WORKER_WIDTH as f64 / w as f64).min(1.0);
            let (sw, sh) = (((w as f64) * scale) as u32, ((h as f64) * scale) as u32);
            if canvas.width() != sw || canvas.height() != sh {
                canvas.set_width(sw);
                canvas.set_height(sh);
                context.replace(None);
            }
            if context.borrow().is_none() {
                let options = Object::new();
                set(&options, "willReadFrequently", &true.into());
                let ctx = canvas
                    .get_context_with_context_options("2d", &options)
                    .ok()
                    .flatten()
                    .and_then(|c| c.dyn_into::<web_sys::CanvasRenderingContext2d>().ok());
                context.replace(ctx);
            }
            let ctx = context.borrow();
            let Some(ctx) = ctx.as_ref() else {
                busy.set(false);
                return;
            };
            let _ = ctx.draw_image_with_html_video_element_and_dw_and_dh(
                &frame_video,
                0.0,
                0.0,
                sw as f64,
                sh as f64,
            );
            let Ok(pixels) = ctx.get_image_data(0.0, 0.0, sw as f64, sh as f64) else {
                busy.set(false);
                return;
            };
            let rgba = pixels.data();
            let luma: Vec<u8> = rgba
                .chunks_exact(4)
                .map(|p| ((p[0] as u32 * 77 + p[1] as u32 * 150 + p[2] as u32 * 29) >> 8) as u8)
                .collect();
            let buffer = js_sys::Uint8Array::from(&luma[..]).buffer();
            let message = Object::new();
            set(&message, "id", &0.into());
            set(&message, "luma", &buffer);
            set(&message, "width", &sw.into());
            set(&message, "height", &sh.into());
            if worker
                .post_message_with_transfer(&message, &Array::of1(&buffer))
                .is_err()
            {
                busy.set(false);
            }
        });
        let timer = window
            .set_interval_with_callback_and_timeout_and_arguments_0(
                tick.as_ref().unchecked_ref(),
                EVERY_MS,
            )
            .map_err(message)?;
        Ok(Session {
            stream,
            video,
            worker,
            timer,
            _tick: tick,
            _reply: reply,
        })
    }
}
