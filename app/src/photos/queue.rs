//! Photos kept on the phone until they are sent: every optimized photo is
//! put in IndexedDB before its upload starts and taken out once the server
//! has stored it (or refused it, with the reason shown), so a photo taken
//! in a stockroom without signal, or before the tab was closed, is sent
//! when the connection comes back.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::js_sys::{Array, Object, Promise, Reflect};
use web_sys::{Blob, IdbDatabase, IdbObjectStoreParameters, IdbRequest, IdbTransactionMode};

const DB: &str = "larder-photos";
const STORE: &str = "queue";

/// A photo waiting to be sent.
#[derive(Clone)]
pub struct Queued {
    pub key: f64,
    pub intake: String,
    pub name: String,
    pub blob: Blob,
    /// "5.8 MB → 268 KB (1600 × 1200)", as shown when it was optimized.
    pub saving: String,
}

fn text(e: JsValue) -> String {
    e.dyn_ref::<web_sys::js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "the browser's storage failed".into())
}

/// Waits for an IndexedDB request.
async fn done(request: &IdbRequest) -> Result<JsValue, String> {
    let promise = Promise::new(&mut |resolve, reject| {
        let ok = Closure::once_into_js(move |_: web_sys::Event| {
            let _ = resolve.call0(&JsValue::NULL);
        });
        let failed = Closure::once_into_js(move |_: web_sys::Event| {
            let _ = reject.call0(&JsValue::NULL);
        });
        request.set_onsuccess(Some(ok.unchecked_ref()));
        request.set_onerror(Some(failed.unchecked_ref()));
    });
    JsFuture::from(promise).await.map_err(|_| {
        request
            .error()
            .ok()
            .flatten()
            .map(|e| e.message())
            .unwrap_or_else(|| "the browser's storage failed".into())
    })?;
    request.result().map_err(text)
}

async fn open() -> Result<IdbDatabase, String> {
    let factory = web_sys::window()
        .and_then(|w| w.indexed_db().ok().flatten())
        .ok_or("this browser keeps no offline storage")?;
    let request = factory.open_with_u32(DB, 1).map_err(text)?;
    let upgrade = Closure::<dyn FnMut(web_sys::Event)>::new({
        let request = request.clone();
        move |_: web_sys::Event| {
            if let Ok(db) = request.result() {
                let db: IdbDatabase = db.unchecked_into();
                if !db.object_store_names().contains(STORE) {
                    let params = IdbObjectStoreParameters::new();
                    params.set_auto_increment(true);
                    let _ = db.create_object_store_with_optional_parameters(STORE, &params);
                }
            }
        }
    });
    request.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
    let db = done(&request).await;
    request.set_onupgradeneeded(None);
    drop(upgrade);
    Ok(db?.unchecked_into())
}

fn store(db: &IdbDatabase, mode: IdbTransactionMode) -> Result<web_sys::IdbObjectStore, String> {
    db.transaction_with_str_and_mode(STORE, mode)
        .and_then(|t| t.object_store(STORE))
        .map_err(text)
}

/// Keeps a photo; answers its key.
pub async fn put(intake: &str, name: &str, blob: &Blob, saving: &str) -> Result<f64, String> {
    let db = open().await?;
    let value = Object::new();
    for (k, v) in [
        ("intake", JsValue::from_str(intake)),
        ("name", JsValue::from_str(name)),
        ("blob", blob.into()),
        ("saving", JsValue::from_str(saving)),
    ] {
        Reflect::set(&value, &JsValue::from_str(k), &v).map_err(text)?;
    }
    let request = store(&db, IdbTransactionMode::Readwrite)?
        .add(&value)
        .map_err(text)?;
    let key = done(&request).await?;
    key.as_f64()
        .ok_or_else(|| "the browser's storage gave no key".into())
}

/// The photos of an intake still waiting, oldest first.
pub async fn waiting(intake: &str) -> Result<Vec<Queued>, String> {
    let db = open().await?;
    let s = store(&db, IdbTransactionMode::Readonly)?;
    let values: Array = done(&s.get_all().map_err(text)?).await?.unchecked_into();
    let keys: Array = done(&s.get_all_keys().map_err(text)?)
        .await?
        .unchecked_into();
    let get = |o: &JsValue, k: &str| Reflect::get(o, &JsValue::from_str(k)).ok();
    let mut out = Vec::new();
    for (value, key) in values.iter().zip(keys.iter()) {
        let Some(i) = get(&value, "intake").and_then(|v| v.as_string()) else {
            continue;
        };
        if i != intake {
            continue;
        }
        let (Some(blob), Some(key)) = (
            get(&value, "blob").and_then(|b| b.dyn_into::<Blob>().ok()),
            key.as_f64(),
        ) else {
            continue;
        };
        out.push(Queued {
            key,
            intake: i,
            name: get(&value, "name")
                .and_then(|v| v.as_string())
                .unwrap_or_default(),
            blob,
            saving: get(&value, "saving")
                .and_then(|v| v.as_string())
                .unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Forgets a photo (sent, or refused by the server).
pub async fn remove(key: f64) -> Result<(), String> {
    let db = open().await?;
    let request = store(&db, IdbTransactionMode::Readwrite)?
        .delete(&JsValue::from_f64(key))
        .map_err(text)?;
    done(&request).await.map(|_| ())
}
