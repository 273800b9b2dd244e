package grafanadouble

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"
)

func (s *Server) createServiceAccount(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name       string `json:"name"`
		Role       string `json:"role"`
		IsDisabled bool   `json:"isDisabled"`
	}
	if !decode(w, r, &body) {
		return
	}
	if who(r).Role != "Admin" {
		writeJSON(w, http.StatusForbidden, msg("You'll need additional permissions to perform this action."))
		return
	}
	if body.Name == "" {
		writeJSON(w, http.StatusBadRequest, msg("Required service account name"))
		return
	}
	switch body.Role {
	case "":
		body.Role = "Viewer"
	case "Viewer", "Editor", "Admin", "None":
	default:
		writeJSON(w, http.StatusBadRequest, msg("invalid role value: "+body.Role))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sa := range s.st.ServiceAccounts {
		if sa.Name == body.Name {
			writeJSON(w, http.StatusBadRequest, msg("service account already exists"))
			return
		}
	}
	sa := &serviceAccount{ID: s.st.NextServiceAccountID, Name: body.Name, Login: "sa-1-" + slugify(body.Name), Role: body.Role, Disabled: body.IsDisabled}
	s.st.NextServiceAccountID++
	s.st.ServiceAccounts = append(s.st.ServiceAccounts, sa)
	if err := s.saveLocked(); err != nil {
		writeJSON(w, http.StatusInternalServerError, msg("Failed to create service account"))
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"id": sa.ID, "uid": "sa" + strconv.FormatInt(sa.ID, 10), "name": sa.Name, "login": sa.Login, "orgId": 1,
		"isDisabled": sa.Disabled, "role": sa.Role, "tokens": 0, "avatarUrl": "",
	})
}

func (s *Server) createServiceAccountToken(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name          string `json:"name"`
		SecondsToLive int64  `json:"secondsToLive"`
	}
	if !decode(w, r, &body) {
		return
	}
	if who(r).Role != "Admin" {
		writeJSON(w, http.StatusForbidden, msg("You'll need additional permissions to perform this action."))
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	var sa *serviceAccount
	for _, o := range s.st.ServiceAccounts {
		if o.ID == id {
			sa = o
		}
	}
	if sa == nil {
		writeJSON(w, http.StatusNotFound, msg("service account not found"))
		return
	}
	if body.Name == "" {
		writeJSON(w, http.StatusBadRequest, msg("bad request data"))
		return
	}
	for _, t := range sa.Tokens {
		if t.Name == body.Name {
			writeJSON(w, http.StatusConflict, msg("service account token with given name already exists in the organization"))
			return
		}
	}
	sum := make([]byte, 4)
	rand.Read(sum)
	key := "glsa_" + randomString(32) + "_" + hex.EncodeToString(sum)
	t := &token{ID: s.st.NextTokenID, Name: body.Name, Hash: hashSecret(key, "")}
	if body.SecondsToLive > 0 {
		t.Expires = time.Now().Add(time.Duration(body.SecondsToLive) * time.Second)
	}
	s.st.NextTokenID++
	sa.Tokens = append(sa.Tokens, t)
	if err := s.saveLocked(); err != nil {
		writeJSON(w, http.StatusInternalServerError, msg("Failed to add service account token"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": t.ID, "name": t.Name, "key": key})
}
