//! Push in this browser: what the notification centre's switch does.
//!
//! Turning push on asks the person's permission, registers Larder's
//! service worker (`/sw.js`, which shows what arrives), subscribes the
//! browser's push service to the instance's VAPID key and hands the
//! subscription to Larder. Turning it off forgets it on both sides.
//! Everything here runs in the browser only; the server renders the
//! switch without a state, as it cannot know this browser's.

/// Where this browser stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushState {
    /// No service workers or Push API here (an old browser, or a page not
    /// served over https or from localhost).
    Unsupported,
    /// The person, or the browser's settings, blocked notifications.
    Blocked,
    Off,
    /// This browser is subscribed, and Larder has the subscription for
    /// the person signed in.
    On,
}

#[cfg(feature = "hydrate")]
mod live {
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;
    use web_sys::js_sys::{self, Reflect};
    use web_sys::{
        Notification, NotificationPermission, PushSubscription, ServiceWorkerContainer,
        ServiceWorkerRegistration,
    };

    use super::PushState;
    use crate::notifications::api::{
        push_public_key, push_subscribed, subscribe_push, unsubscribe_push,
    };

    /// Larder's service worker, served from the site root so its scope is
    /// every page.
    const WORKER: &str = "/sw.js";

    fn describe(e: JsValue) -> String {
        e.dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .or_else(|| e.as_string())
            .unwrap_or_else(|| "the browser refused".to_string())
    }

    /// The service worker container, when this browser can take pushes.
    fn container() -> Option<ServiceWorkerContainer> {
        let window = web_sys::window()?;
        let has = |target: &JsValue, name: &str| {
            Reflect::get(target, &JsValue::from_str(name)).is_ok_and(|v| !v.is_undefined())
        };
        let navigator = window.navigator();
        (has(&navigator, "serviceWorker")
            && has(&window, "PushManager")
            && has(&window, "Notification"))
        .then(|| navigator.service_worker())
    }

    async fn registered(
        c: &ServiceWorkerContainer,
    ) -> Result<Option<ServiceWorkerRegistration>, String> {
        let r = JsFuture::from(c.get_registration())
            .await
            .map_err(describe)?;
        Ok((!r.is_undefined() && !r.is_null()).then(|| r.unchecked_into()))
    }

    async fn subscription(
        r: &ServiceWorkerRegistration,
    ) -> Result<Option<PushSubscription>, String> {
        let manager = r.push_manager().map_err(describe)?;
        let s = JsFuture::from(manager.get_subscription().map_err(describe)?)
            .await
            .map_err(describe)?;
        Ok((!s.is_undefined() && !s.is_null()).then(|| s.unchecked_into()))
    }

    pub async fn state() -> PushState {
        let Some(c) = container() else {
            return PushState::Unsupported;
        };
        if Notification::permission() == NotificationPermission::Denied {
            return PushState::Blocked;
        }
        let Ok(Some(r)) = registered(&c).await else {
            return PushState::Off;
        };
        let Ok(Some(s)) = subscription(&r).await else {
            return PushState::Off;
        };
        // The browser may have been subscribed for someone who signed out.
        match push_subscribed(s.endpoint()).await {
            Ok(true) => PushState::On,
            _ => PushState::Off,
        }
    }

    /// The VAPID key as bytes: browsers take base64url strings too, but not
    /// all of them.
    fn key_bytes(key: &str) -> Result<js_sys::Uint8Array, String> {
        let mut standard = key.replace('-', "+").replace('_', "/");
        while standard.len() % 4 != 0 {
            standard.push('=');
        }
        let window = web_sys::window().ok_or("no window")?;
        let binary = window.atob(&standard).map_err(describe)?;
        let bytes: Vec<u8> = binary.chars().map(|c| c as u32 as u8).collect();
        Ok(js_sys::Uint8Array::from(&bytes[..]))
    }

    /// Whether a subscription was made for this key; one that does not say
    /// is taken as made for it.
    fn subscribed_with(s: &PushSubscription, key: &js_sys::Uint8Array) -> bool {
        let made_for = Reflect::get(s, &JsValue::from_str("options"))
            .ok()
            .filter(|o| o.is_object())
            .and_then(|o| Reflect::get(&o, &JsValue::from_str("applicationServerKey")).ok())
            .filter(|k| k.is_object());
        match made_for {
            Some(k) => js_sys::Uint8Array::new(&k).to_vec() == key.to_vec(),
            None => true,
        }
    }

    pub async fn turn_on() -> Result<(), String> {
        let c = container().ok_or("This browser cannot receive pushes.")?;
        let answer = JsFuture::from(Notification::request_permission().map_err(describe)?)
            .await
            .map_err(describe)?;
        if answer.as_string().as_deref() != Some("granted") {
            return Err("Notifications are not allowed for Larder in this browser. Allow them in the site's settings, then turn push on again.".into());
        }
        JsFuture::from(c.register(WORKER)).await.map_err(describe)?;
        let ready: ServiceWorkerRegistration = JsFuture::from(c.ready().map_err(describe)?)
            .await
            .map_err(describe)?
            .unchecked_into();
        let key = key_bytes(&push_public_key().await.map_err(|e| e.to_string())?)?;
        let s = match subscription(&ready).await? {
            Some(s) if subscribed_with(&s, &key) => s,
            stale => {
                // Made for another key (this instance's was made anew): the
                // push service would refuse Larder's pushes to it.
                if let Some(old) = stale {
                    if let Ok(p) = old.unsubscribe() {
                        let _ = JsFuture::from(p).await;
                    }
                }
                let options = web_sys::PushSubscriptionOptionsInit::new();
                options.set_user_visible_only(true);
                options.set_application_server_key_opt_u8_array(Some(&key));
                let manager = ready.push_manager().map_err(describe)?;
                JsFuture::from(manager.subscribe_with_options(&options).map_err(describe)?)
                    .await
                    .map_err(|e| {
                        format!("The browser's push service did not answer: {}", describe(e))
                    })?
                    .unchecked_into()
            }
        };
        let json = s.to_json().map_err(describe)?;
        let keys = json
            .get_keys()
            .ok_or("The browser gave no keys for its subscription.")?;
        let saved = subscribe_push(
            s.endpoint(),
            keys.get_p256dh().unwrap_or_default(),
            keys.get_auth().unwrap_or_default(),
        )
        .await;
        if let Err(e) = saved {
            // Larder will not use it: the browser need not keep it.
            if let Ok(p) = s.unsubscribe() {
                let _ = JsFuture::from(p).await;
            }
            return Err(e.to_string());
        }
        Ok(())
    }

    pub async fn turn_off() -> Result<(), String> {
        let c = container().ok_or("This browser cannot receive pushes.")?;
        let Some(r) = registered(&c).await? else {
            return Ok(());
        };
        let Some(s) = subscription(&r).await? else {
            return Ok(());
        };
        unsubscribe_push(s.endpoint())
            .await
            .map_err(|e| e.to_string())?;
        JsFuture::from(s.unsubscribe().map_err(describe)?)
            .await
            .map_err(describe)?;
        Ok(())
    }
}

#[cfg(feature = "hydrate")]
pub use live::{state, turn_off, turn_on};

// The server never runs these (the switch asks from the browser only);
// they exist so the page compiles alike on both sides.
#[cfg(not(feature = "hydrate"))]
pub async fn state() -> PushState {
    PushState::Unsupported
}
#[cfg(not(feature = "hydrate"))]
pub async fn turn_on() -> Result<(), String> {
    Err("push is turned on from the browser".into())
}
#[cfg(not(feature = "hydrate"))]
pub async fn turn_off() -> Result<(), String> {
    Ok(())
}
