// The optional access token of the web page (--ui-token): accepted as `Authorization: Bearer <token>` or
// as the cookie the login form sets. The cookie holds an HMAC of the token, not the token, and is the
// same on every replica, so a load balancer may send each request anywhere. Comparisons take constant time.

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const UI_COOKIE = 'nuget_proxy_ui';
/** A login lasts this long. */
const COOKIE_MAX_AGE_SECONDS = 7 * 24 * 3600;

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

export class AccessToken {
  private readonly cookieValue: string;

  constructor(private readonly token: string) {
    this.cookieValue = createHmac('sha256', token).update('nuget-proxy web page session v1').digest('base64url');
  }

  /** Whether the token typed into the login form is the right one. */
  matches(candidate: string): boolean {
    return sameSecret(candidate, this.token);
  }

  /** Whether a request carries the token (Authorization header) or the login cookie. */
  allows(authorization: string, cookieHeader: string): boolean {
    const bearer = /^Bearer\s+(.+?)\s*$/i.exec(authorization)?.[1];
    if (bearer !== undefined && this.matches(bearer)) return true;
    for (const part of cookieHeader.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === UI_COOKIE && sameSecret(part.slice(eq + 1).trim(), this.cookieValue)) return true;
    }
    return false;
  }

  /** Set-Cookie for a successful login; HttpOnly, SameSite=Strict, Secure when the page is served over https. */
  loginCookie(path: string, https: boolean): string {
    return `${UI_COOKIE}=${this.cookieValue}; Path=${path || '/'}; Max-Age=${COOKIE_MAX_AGE_SECONDS}; HttpOnly; SameSite=Strict${https ? '; Secure' : ''}`;
  }

  static logoutCookie(path: string, https: boolean): string {
    return `${UI_COOKIE}=; Path=${path || '/'}; Max-Age=0; HttpOnly; SameSite=Strict${https ? '; Secure' : ''}`;
  }
}
