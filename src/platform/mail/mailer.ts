import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import { mailOutbox } from '../../db/schema/index.ts';
import type { Db } from '../db/client.ts';
import { newId } from '../db/ids.ts';
import type { Lang } from '../i18n/lang.ts';

export interface MailMessage {
  to: string;
  subject: string;
  body: string;
  kind: string;
  language: Lang;
  orgId?: string | null;
}

/**
 * Outgoing mail. With SMTP_URL it is sent by SMTP (and recorded); without it, it is kept in the
 * `mail_outbox` table for the operator, never dropped. Logs name the recipient and kind only: bodies
 * carry tokens.
 */
export class Mailer {
  private readonly transport?: Transporter;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    private readonly opts: { smtpUrl?: string; from: string },
  ) {
    if (opts.smtpUrl) this.transport = nodemailer.createTransport(opts.smtpUrl);
  }

  /** Sends (or stores) one message; delivery failures are recorded, not thrown. */
  async send(m: MailMessage): Promise<void> {
    const id = newId();
    if (!this.transport) {
      await this.db.insert(mailOutbox).values({ id, orgId: m.orgId ?? null, to: m.to, subject: m.subject, body: m.body, kind: m.kind, language: m.language, status: 'stored' });
      this.log.info({ mail_id: id, kind: m.kind, to: m.to }, 'no SMTP configured: message kept in the mail outbox');
      return;
    }
    try {
      await this.transport.sendMail({ from: this.opts.from, to: m.to, subject: m.subject, text: m.body });
      await this.db.insert(mailOutbox).values({ id, orgId: m.orgId ?? null, to: m.to, subject: m.subject, body: '[sent by SMTP]', kind: m.kind, language: m.language, status: 'sent', sentAt: new Date() });
    } catch (err) {
      this.log.warn({ mail_id: id, kind: m.kind, to: m.to, err: { message: (err as Error).message } }, 'sending mail failed; message kept in the mail outbox');
      await this.db.insert(mailOutbox).values({ id, orgId: m.orgId ?? null, to: m.to, subject: m.subject, body: m.body, kind: m.kind, language: m.language, status: 'failed', error: (err as Error).message });
    }
  }
}

/** Bilingual templates of the messages Tadween sends. */
export const templates = {
  invitation(lang: Lang, p: { orgName: string; inviter: string; link: string; days: number }) {
    return lang === 'ar'
      ? {
          subject: `دعوة للانضمام إلى ${p.orgName} على تدوين`,
          body: `دعاك ${p.inviter} للانضمام إلى ${p.orgName} على تدوين.\n\nلقبول الدعوة افتح الرابط التالي (صالح ${p.days} أيام ولمرة واحدة):\n${p.link}\n`,
        }
      : {
          subject: `You are invited to join ${p.orgName} on Tadween`,
          body: `${p.inviter} invited you to join ${p.orgName} on Tadween.\n\nOpen this link to accept (valid for ${p.days} days, once):\n${p.link}\n`,
        };
  },
  passwordReset(lang: Lang, p: { link: string }) {
    return lang === 'ar'
      ? { subject: 'إعادة تعيين كلمة المرور في تدوين', body: `لإعادة تعيين كلمة المرور افتح الرابط التالي (صالح ساعة واحدة ولمرة واحدة):\n${p.link}\n\nإن لم تطلب ذلك فتجاهل هذه الرسالة.\n` }
      : { subject: 'Reset your Tadween password', body: `Open this link to reset your password (valid for one hour, once):\n${p.link}\n\nIf you did not ask for this, ignore this message.\n` };
  },
};
