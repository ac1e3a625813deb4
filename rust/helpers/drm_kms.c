// SPDX-License-Identifier: GPL-2.0

#include <drm/drm_atomic.h>

#ifdef CONFIG_DRM

__rust_helper struct drm_crtc_state *
rust_helper_drm_atomic_get_old_crtc_state(const struct drm_atomic_commit *state,
					  struct drm_crtc *crtc)
{
	return drm_atomic_get_old_crtc_state(state, crtc);
}

__rust_helper struct drm_crtc_state *
rust_helper_drm_atomic_get_new_crtc_state(const struct drm_atomic_commit *state,
					  struct drm_crtc *crtc)
{
	return drm_atomic_get_new_crtc_state(state, crtc);
}

__rust_helper struct drm_plane_state *
rust_helper_drm_atomic_get_old_plane_state(const struct drm_atomic_commit *state,
					   struct drm_plane *plane)
{
	return drm_atomic_get_old_plane_state(state, plane);
}

__rust_helper struct drm_plane_state *
rust_helper_drm_atomic_get_new_plane_state(const struct drm_atomic_commit *state,
					   struct drm_plane *plane)
{
	return drm_atomic_get_new_plane_state(state, plane);
}

__rust_helper struct drm_connector_state *
rust_helper_drm_atomic_get_old_connector_state(const struct drm_atomic_commit *state,
					       struct drm_connector *connector)
{
	return drm_atomic_get_old_connector_state(state, connector);
}

__rust_helper struct drm_connector_state *
rust_helper_drm_atomic_get_new_connector_state(const struct drm_atomic_commit *state,
					       struct drm_connector *connector)
{
	return drm_atomic_get_new_connector_state(state, connector);
}

__rust_helper void rust_helper_drm_atomic_commit_put(struct drm_atomic_commit *state)
{
	drm_atomic_commit_put(state);
}

__rust_helper bool
rust_helper_drm_atomic_crtc_needs_modeset(const struct drm_crtc_state *state)
{
	return drm_atomic_crtc_needs_modeset(state);
}

#endif /* CONFIG_DRM */
