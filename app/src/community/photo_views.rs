//! Adding photos to a post or a profile: each picked photo is optimized
//! on this device (the photo pipeline's optimizer: smaller, no location
//! data), uploaded to `/community/photos`, and shown as a thumbnail that
//! can be taken out again before posting. A post's photos are shown as a
//! grid, each opening the whole photo.

use leptos::prelude::*;

use crate::ids::PhotoId;

/// A photo's thumbnail address.
pub fn thumbnail(photo: &PhotoId) -> String {
    format!("/community/photos/{photo}/thumbnail.jpg")
}

/// Picks, optimizes and uploads photos into `photos` (at most `max`).
#[component]
pub fn PhotoPicker(
    /// The file input's id.
    id: &'static str,
    label: &'static str,
    max: usize,
    photos: RwSignal<Vec<PhotoId>>,
    /// Photos being optimized or uploaded right now.
    busy: RwSignal<usize>,
) -> impl IntoView {
    let input: NodeRef<leptos::html::Input> = NodeRef::new();
    let error = RwSignal::new(None::<String>);
    let picked = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(el) = input.get_untracked() {
            if let Some(files) = el.files() {
                error.set(None);
                let room = max.saturating_sub(photos.get_untracked().len() + busy.get_untracked());
                if files.length() as usize > room {
                    error.set(Some(format!(
                        "At most {max} photos; the first {room} of those are being added."
                    )));
                }
                for i in 0..(files.length() as usize).min(room) {
                    if let Some(file) = files.get(i as u32) {
                        busy.update(|n| *n += 1);
                        leptos::task::spawn_local(async move {
                            match add(&file).await {
                                Ok(id) => {
                                    photos.try_update(|p| p.push(id));
                                }
                                Err(m) => {
                                    error.try_set(Some(m));
                                }
                            }
                            busy.try_update(|n| *n = n.saturating_sub(1));
                        });
                    }
                }
            }
            el.set_value("");
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (input, max);
    };
    let several = max > 1;
    let full = move || photos.get().len() + busy.get() >= max;
    let remove = move |photo: PhotoId| photos.update(|p| p.retain(|x| *x != photo));
    view! {
        <div class="field photo-picker">
            <label class="button small" for=id
                class:disabled=full>
                {label}
            </label>
            <input id=id class="visually-hidden" type="file" accept="image/*" multiple=several
                node_ref=input on:change=picked
                disabled=full />
            <ul class="picked-photos" aria-live="polite">
                {move || photos.get().into_iter().enumerate().map(|(i, p)| {
                    let src = thumbnail(&p);
                    view! {
                        <li data-testid="picked-photo">
                            <img src=src alt=format!("Photo {}", i + 1) width="96" height="96" />
                            <button type="button" class="button small" on:click=move |_| remove(p.clone())
                                aria-label=format!("Take out photo {}", i + 1)>"✕"</button>
                        </li>
                    }
                }).collect_view()}
                {move || (busy.get() > 0).then(|| view! {
                    <li class="muted" role="status">"Adding a photo…"</li>
                })}
            </ul>
            {move || error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
        </div>
    }
}

/// Optimizes and uploads one photo; its id, or why it could not be added.
#[cfg(feature = "hydrate")]
async fn add(file: &web_sys::File) -> Result<PhotoId, String> {
    use crate::photos::send::{post_picture, Sent};
    let name = file.name();
    let optimized = crate::photos::optimize::optimize(
        file,
        &name,
        crate::photos::optimize::Settings::default(),
    )
    .await
    .map_err(|e| format!("{name}: {e}"))?;
    match post_picture("/community/photos", &name, &optimized.blob).await {
        Ok(json) => serde_json::from_str::<crate::photos::model::Uploaded>(&json)
            .map(|u| u.id)
            .map_err(|_| format!("{name}: the server's answer was not understood.")),
        Err(Sent::Offline) => Err(format!(
            "{name}: no connection to Larder; add it again when you are online."
        )),
        Err(Sent::Refused(m)) => Err(m),
    }
}

/// A post's photos: a grid of thumbnails, each opening the whole photo.
#[component]
pub fn PostPhotos(photos: Vec<PhotoId>) -> impl IntoView {
    let count = photos.len();
    (count > 0).then(|| {
        view! {
            <div class=format!("post-photos count-{count}")>
                {photos.into_iter().enumerate().map(|(i, p)| view! {
                    <a href=format!("/community/photos/{p}/photo") target="_blank" rel="noopener">
                        <img src=thumbnail(&p) alt=format!("Photo {} of {count}", i + 1) loading="lazy" />
                    </a>
                }).collect_view()}
            </div>
        }
    })
}

/// A person's avatar, or their initial when they have none.
#[component]
pub fn Avatar(person: super::model::Person, #[prop(optional)] large: bool) -> impl IntoView {
    let class = if large { "avatar large" } else { "avatar" };
    match person.avatar {
        Some(p) => view! { <img class=class src=thumbnail(&p) alt="" /> }.into_any(),
        None => {
            let initial = person
                .name
                .chars()
                .next()
                .map(|c| c.to_uppercase().to_string())
                .unwrap_or_default();
            view! { <span class=format!("{class} initial") aria-hidden="true">{initial}</span> }
                .into_any()
        }
    }
}
