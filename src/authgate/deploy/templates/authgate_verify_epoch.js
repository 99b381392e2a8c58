// The verdict epoch for authgate's verify cache in nginx (njs 0.7.9 or later; see
// deploy/nginx.py): the value the gateway rewrites whenever a verdict may change, read for each
// check, so that the next request after a change finds no entry. "" when the file is missing,
// unreadable or empty: nothing is cached and the gateway is asked.
//
// The rest of the key is nginx's own work (maps, $cookie_, secure_link's MD5): cheaper than a
// script that finds the cookie and hashes it (see the README, "The protected page").
var fs = require('fs');

function epoch(r) {
    try {
        return fs.readFileSync(r.variables.authgate_verify_epoch, 'utf8').trim();
    } catch (e) {
        return '';
    }
}

export default {epoch};
