"""Japanese for every English text the bot writes: English (as in the code) → Japanese.

Keep the {placeholders} of the English; tests/bot/test_i18n.py checks they match.
"""

from __future__ import annotations

from bot.i18n_ja_commands import COMMANDS
from bot.i18n_ja_controls import CONTROLS

JA: dict[str, str] = {
    **COMMANDS,
    **CONTROLS,
    # --- The AI provider (bot/llm.py)
    "The AI provider failed unexpectedly. Please try again in a moment.": (
        "AI プロバイダーで予期しないエラーが発生しました。少し待ってからもう一度お試しください。"
    ),
    "The model's answer was cut off part-way (the connection dropped). Please try again.": (
        "モデルの回答が途中で途切れました（接続が切れました）。もう一度お試しください。"
    ),
    "The image service answered without an image. Please try again.": (
        "画像サービスから画像が返ってきませんでした。もう一度お試しください。"
    ),
    "the configured model": "設定されたモデル",
    "The AI provider took too long to answer. Please try again in a moment.": (
        "AI プロバイダーの応答に時間がかかりすぎました。少し待ってからもう一度お試しください。"
    ),
    "The AI provider can't be reached right now. Please try again in a moment.": (
        "現在 AI プロバイダーに接続できません。少し待ってからもう一度お試しください。"
    ),
    "The AI provider is rate-limiting us. Please try again in about {seconds} seconds.": (
        "AI プロバイダーのレート制限にかかっています。約 {seconds} 秒後にもう一度お試しください。"
    ),
    "The AI provider is rate-limiting us. Please try again in a moment.": (
        "AI プロバイダーのレート制限にかかっています。少し待ってからもう一度お試しください。"
    ),
    "The AI provider rejected the API key. An admin needs to check OPENAI_API_KEY.": (
        "AI プロバイダーに API キーが拒否されました。管理者が OPENAI_API_KEY を確認する必要があります。"
    ),
    "The AI provider doesn't have the model {model}. An admin needs to check the model settings.": (
        "AI プロバイダーにモデル {model} がありません。管理者がモデルの設定を確認する必要があります。"
    ),
    "That is too long for the model to read at once. Try a shorter message or `/reset` the channel.": (
        "モデルが一度に読める長さを超えています。メッセージを短くするか、`/reset` "
        "でチャンネルの記憶を消してください。"
    ),
    "That code is too long for the model to read at once. Try a smaller file or one part of it.": (
        "コードが長すぎてモデルが一度に読めません。小さいファイルか、その一部でお試しください。"
    ),
    "The question and its sources are too long for the model. Try a shorter question.": (
        "質問と参照資料がモデルには長すぎます。質問を短くしてお試しください。"
    ),
    "Part of this document is too long for the embedding model. Try splitting the file.": (
        "この文書の一部が埋め込みモデルには長すぎます。ファイルを分割してお試しください。"
    ),
    "That is too long for the model to read at once. Try something shorter.": (
        "モデルが一度に読める長さを超えています。もっと短くしてお試しください。"
    ),
    "The provider's safety system refused this request. Try wording it differently.": (
        "プロバイダーの安全システムがこのリクエストを拒否しました。表現を変えてお試しください。"
    ),
    "The AI provider had a problem on its side. Please try again in a moment.": (
        "AI プロバイダー側で問題が発生しました。少し待ってからもう一度お試しください。"
    ),
    "The AI provider sent an answer we couldn't read. Please try again.": (
        "AI プロバイダーから読み取れない応答が返ってきました。もう一度お試しください。"
    ),
    "The AI provider refused this request as invalid.": (
        "AI プロバイダーがこのリクエストを無効として拒否しました。"
    ),
    "The AI provider account is out of quota. An admin needs to check the plan or billing.": (
        "AI プロバイダーのアカウントの利用枠を使い切りました。"
        "管理者がプランまたは請求情報を確認する必要があります。"
    ),
    (
        "The AI provider can't make images with `{model}`. An admin needs to set IMAGE_MODEL to an image "
        "model (such as gpt-image-1), or OPENAI_BASE_URL to a provider that makes images."
    ): (
        "AI プロバイダーは `{model}` で画像を生成できません。管理者が IMAGE_MODEL を画像モデル（gpt-image-1 "
        "など）に設定するか、OPENAI_BASE_URL を画像生成に対応したプロバイダーに設定する必要があります。"
    ),
    "The embedding service answered incompletely. Please try again.": (
        "埋め込みサービスの応答が不完全でした。もう一度お試しください。"
    ),
    "The model returned an empty answer. Please try again.": (
        "モデルから空の回答が返ってきました。もう一度お試しください。"
    ),
    # --- Uploads: refusals (bot/files.py, index/ingest.py, index/library.py)
    "This file contains binary data{detail}, not text. Supported: {supported}.": (
        "このファイルはテキストではなくバイナリデータです{detail}。対応形式：{supported}。"
    ),
    " (it looks like {what})": "（{what}のようです）",
    (
        "I couldn't read this file's text: it isn't in a text encoding I know (UTF-8, UTF-16, Shift_JIS or "
        "EUC-JP). Save it as UTF-8 and upload it again."
    ): (
        "このファイルのテキストを読み取れませんでした。対応している文字コード（UTF-8・UTF-16・Shift_JIS・"
        "EUC-JP）ではありません。UTF-8 で保存してからもう一度アップロードしてください。"
    ),
    "{reason} Supported: {supported}.": "{reason}対応形式：{supported}。",
    "'{name}' looks like {what}, which I can't read.{hint}": (
        "「{name}」は{what}のようですが、この形式は読み込めません。{hint}"
    ),
    "I can't read {ext} files ('{name}').": "{ext} ファイル（「{name}」）は読み込めません。",
    "I can't tell what kind of file '{name}' is.": "「{name}」がどの種類のファイルか判別できません。",
    (
        "'{name}' is not a valid {what}: it seems damaged or is another kind of file renamed. If it opens on "
        "your computer, save or export it as {what} again and upload that."
    ): (
        "「{name}」は有効な{what}ではありません。破損しているか、"
        "別の種類のファイルの名前を変えたもののようです。お使いのパソコンで開ける場合は、"
        "{what}として保存またはエクスポートし直してからアップロードしてください。"
    ),
    "'{name}' is a password-protected Office document: remove the password and upload it again.": (
        "「{name}」はパスワードで保護された Office 文書です。"
        "パスワードを解除してからもう一度アップロードしてください。"
    ),
    (
        "'{name}' is {size}; the limit is {limit}. Split it into smaller files or remove images, then upload "
        "again."
    ): (
        "「{name}」は {size} あり、上限の {limit} を超えています。ファイルを分割するか画像を減らしてから、"
        "もう一度アップロードしてください。"
    ),
    "'{name}' has no text in it, so there is nothing to index.": (
        "「{name}」にはテキストが含まれていないため、インデックスする内容がありません。"
    ),
    (
        "'{name}' has no text I can read: it looks like a scanned document (pictures of pages). Run it "
        "through OCR (text recognition, e.g. in Adobe Acrobat or your scanner's app) and upload the result."
    ): (
        "「{name}」には読み取れるテキストがありません。スキャンした文書（ページの画像）のようです。"
        "OCR（文字認識。Adobe Acrobat やスキャナーのアプリなど）にかけて、"
        "その結果をアップロードしてください。"
    ),
    (
        "I couldn't open '{name}': it looks damaged or incomplete{detail}. If it opens on your computer, "
        "save or export it as {what} again and upload that."
    ): (
        "「{name}」を開けませんでした。破損しているか不完全なようです{detail}。"
        "お使いのパソコンで開ける場合は、{what}として保存またはエクスポートし直してからアップロードしてくださ"
        "い。"
    ),
    " ({detail})": "（{detail}）",
    (
        "I couldn't open '{name}': reading it crashed the document reader, so the file is probably "
        "damaged or built to be unreadable. If it opens on your computer, save or export it again "
        "and upload that."
    ): (
        "「{name}」を開けませんでした。読み込み中にドキュメントの読み取り処理が異常終了したため、"
        "ファイルが破損しているか、読めないように作られている可能性があります。"
        "お使いのパソコンで開ける場合は、保存またはエクスポートし直してからアップロードしてください。"
    ),
    (
        "Documents are unavailable right now: I couldn't open the document index. "
        "The bot's host can see why in its log."
    ): (
        "現在ドキュメントを利用できません。ドキュメントのインデックスを開けませんでした。"
        "原因はボットの管理者がログで確認できます。"
    ),
    (
        "I can't reach the document index right now, so I deleted nothing. Try again in a few minutes, or "
        "choose to keep your documents to delete everything else now."
    ): (
        "現在ドキュメントのインデックスにアクセスできないため、何も削除していません。"
        "数分後にもう一度お試しいただくか、ドキュメントを残す方を選んで、それ以外を今すぐ削除してください。"
    ),
    "I stopped reading '{name}' because I'm restarting. Upload it again in a minute.": (
        "再起動のため「{name}」の読み込みを中断しました。少し待ってからもう一度アップロードしてください。"
    ),
    (
        "I stopped reading '{name}' after {seconds} seconds: it takes far longer than a normal document, "
        "so it may be damaged. Save it again (or split it into smaller files) and upload that."
    ): (
        "「{name}」の読み込みを {seconds} 秒で打ち切りました。通常の文書よりはるかに時間がかかるため、"
        "破損している可能性があります。保存し直すか小さなファイルに分割してから、"
        "アップロードしてください。"
    ),
    "'{name}' is a password-protected {what}: remove the password and upload it again.": (
        "「{name}」はパスワードで保護された{what}です。"
        "パスワードを解除してからもう一度アップロードしてください。"
    ),
    (
        "'{name}' would expand to {size} when opened, far more than a real document, so I won't open it. If "
        "it is a genuine document, save it again from Word and upload that."
    ): (
        "「{name}」は開くと {size} に展開され、通常の文書としては大きすぎるため開きません。"
        "正規の文書であれば、Word で保存し直してからアップロードしてください。"
    ),
    (
        "'{name}' has {columns:,} columns; I can index at most {limit:,}. Check that it really is a CSV "
        "table, or split it into smaller tables."
    ): (
        "「{name}」には {columns:,} 列あります。インデックスできるのは {limit:,} 列までです。CSV "
        "の表になっているか確認するか、小さな表に分割してください。"
    ),
    "'{name}' is empty (0 bytes).": "「{name}」は空です（0 バイト）。",
    "'{name}': {reason}": "「{name}」：{reason}",
    (
        "I couldn't read '{name}': its structure is nested too deeply. Save it in a simpler form (for "
        "example as plain text or PDF) and upload that."
    ): (
        "「{name}」を読み込めませんでした。構造の入れ子が深すぎます。より単純な形式（プレーンテキストや PDF "
        "など）で保存してからアップロードしてください。"
    ),
    "line {line} could not be read": "{line} 行目を読み取れませんでした",
    "{member} is missing": "{member} がありません",
    "unexpected XML declarations": "想定外の XML 宣言があります",
    "it has no body": "本文がありません",
    "it has no pages": "ページがありません",
    "text (.txt), Markdown (.md), PDF, Word (.docx), HTML, CSV and source code (.py, .js, .ts …)": (
        "テキスト（.txt）、Markdown（.md）、PDF、Word（.docx）、HTML、CSV、ソースコード（.py・.js・.ts など）"
    ),
    "a {ext} document": "{ext} 文書",
    "an Excel spreadsheet": "Excel のスプレッドシート",
    "a PowerPoint presentation": "PowerPoint のプレゼンテーション",
    "a zip archive": "zip アーカイブ",
    "an old-style Word document (.doc)": "旧形式の Word 文書（.doc）",
    " Save it as .docx in Word.": "Word で .docx として保存してください。",
    " Save it as .docx or PDF.": ".docx か PDF で保存してください。",
    "Word document (.docx)": "Word 文書（.docx）",
    "a Word document (.docx)": "Word 文書（.docx）",
    "a PNG image": "PNG 画像",
    "a JPEG image": "JPEG 画像",
    "a GIF image": "GIF 画像",
    "an image or media file": "画像またはメディアファイル",
    "a video or audio file": "動画または音声ファイル",
    "an audio file": "音声ファイル",
    "a compressed (gzip) archive": "圧縮ファイル（gzip）",
    "a 7-Zip archive": "7-Zip アーカイブ",
    "a RAR archive": "RAR アーカイブ",
    "a program": "プログラム",
    "a Windows program": "Windows のプログラム",
    "an old-style Office document (.doc/.xls/.ppt)": "旧形式の Office 文書（.doc/.xls/.ppt）",
    "a database file": "データベースファイル",
    "a WebAssembly program": "WebAssembly のプログラム",
    "a compressed (bzip2) archive": "圧縮ファイル（bzip2）",
    "a compressed (xz) archive": "圧縮ファイル（xz）",
    # --- Documents: progress, summaries, lists (index/library.py, cogs/docs.py, index/query.py)
    "Reading **{name}**…": "**{name}** を読み込んでいます…",
    "Indexing **{name}**: {done} of {total} chunks embedded…": (
        "**{name}** をインデックス中：{total} チャンク中 {done} チャンクを埋め込み済み…"
    ),
    "📄 Reading your files…": "📄 ファイルを読み込んでいます…",
    "⏭️ **{name}** is already indexed (same content), nothing to do.": (
        "⏭️ **{name}** は同じ内容ですでにインデックス済みのため、何もしませんでした。"
    ),
    "✅ **{name}** indexed: {pages}{chunks} in {seconds:.1f} s.": (
        "✅ **{name}** をインデックスしました：{pages}{chunks}（{seconds:.1f} 秒）"
    ),
    "✅ **{name}** replaced the earlier version: {pages}{chunks} in {seconds:.1f} s.": (
        "✅ **{name}** の以前の版を置き換えました：{pages}{chunks}（{seconds:.1f} 秒）"
    ),
    "🔒 Only you can use these, here in our DMs.": (
        "🔒 このファイルを使えるのはあなただけです（この DM の中で）。"
    ),
    "🔒 Used in this channel only (and its threads).": (
        "🔒 このチャンネル（とそのスレッド）の中だけで使います。"
    ),
    "🔒 This channel is private, so these are used in it only (and its threads).": (
        "🔒 このチャンネルは非公開のため、このチャンネル（とそのスレッド）の中だけで使います。"
    ),
    "📚 Used in every channel of this server.": "📚 このサーバーのすべてのチャンネルで使います。",
    "{count} pages, ": "{count} ページ、",
    "1 chunk": "1 チャンク",
    "{count} chunks": "{count} チャンク",
    "That's {count} files; I take at most {limit} at once. Please upload them in smaller groups.": (
        "ファイルが {count} 個あります。一度に受け付けられるのは {limit} 個までです。"
        "分けてアップロードしてください。"
    ),
    "I couldn't download this file from Discord. Please try again.": (
        "Discord からこのファイルをダウンロードできませんでした。もう一度お試しください。"
    ),
    "Several documents here are called '{name}'. Pick one from the list.": (
        "ここには「{name}」という名前のドキュメントが複数あります。一覧から選んでください。"
    ),
    "I can't find that document here. Pick one from the list.": (
        "ここではそのドキュメントが見つかりません。一覧から選んでください。"
    ),
    "Only {uploader}, who added '{name}', or someone with Manage Server can remove it.": (
        "「{name}」を削除できるのは、追加した {uploader} さんか「サーバー管理」権限を持つ人だけです。"
    ),
    "Removed **{name}**.": "**{name}** を削除しました。",
    "Documents here ({count})": "このチャンネルのドキュメント（{count} 件）",
    "**{name}** · {kind} · {size} · {chunks} · {scope} · added by {uploader} {when}": (
        "**{name}** · {kind} · {size} · {chunks} · {scope} · {uploader} さんが追加 {when}"
    ),
    "{kb:.0f} KB": "{kb:.0f} KB",
    "<1 KB": "1 KB 未満",
    "…and {count} more.": "…ほか {count} 件。",
    "page {page}": "{page} ページ",
    "lines {lines}": "{lines} 行目",
    "server": "サーバー",
    "channel": "チャンネル",
    "user": "個人",
    "No documents yet: add some with `/docs add`.": (
        "まだドキュメントがありません。`/docs add` で追加してください。"
    ),
    "Sources": "出典",
    (
        "I couldn't find anything about that in the documents this channel can see. Add documents with "
        "`/docs add`, or ask in the channel where they were shared."
    ): (
        "このチャンネルで参照できるドキュメントには、それに関する情報が見つかりませんでした。`/docs add` "
        "でドキュメントを追加するか、共有されたチャンネルで質問してください。"
    ),
    "Chat here draws on the documents this channel can see ({why}).": (
        "ここでのチャットは、このチャンネルで参照できるドキュメントを使います（{why}）。"
    ),
    "Chat here doesn't draw on the documents ({why}).": (
        "ここでのチャットはドキュメントを使いません（{why}）。"
    ),
    "this channel's setting": "このチャンネルの設定",
    "the parent channel's setting": "親チャンネルの設定",
    "the server's setting": "サーバーの設定",
    "the default": "既定の設定",
    "Change it with `/docs chat`.": "`/docs chat` で変更できます。",
    "Choosing whether chat here uses the documents needs the Manage Channels permission.": (
        "ここでのチャットにドキュメントを使うかどうかを設定するには「チャンネルの管理」権限が必要です。"
    ),
    # --- Chat: notes, hints, /reset and /persona (bot/chat.py, cogs/chat.py, bot/ui.py)
    "… thinking": "… 考え中",
    "… reading the code": "… コードを読んでいます",
    (
        "_⚠️ The answer reached the model's length limit and was cut off, so the code may be incomplete. "
        "Ask about a smaller part (a function or a shorter file)._"
    ): (
        "_⚠️ 回答がモデルの長さの上限に達して途中で切れたため、コードが不完全な可能性があります。"
        "より小さな部分（関数や短いファイル）について質問してください。_"
    ),
    "Hi! Mention me with a question, reply to one of my messages, or use `/chat`.": (
        "こんにちは！質問と一緒にメンションするか、私のメッセージに返信するか、`/chat` を使ってください。"
    ),
    "_Older messages in this channel are now kept as a summary so the conversation fits the model._": (
        "_会話がモデルに収まるよう、このチャンネルの古いメッセージは要約として保持しています。_"
    ),
    "_This model doesn't read images, so I only read the text of your message._": (
        "_このモデルは画像を読めないため、メッセージのテキストだけを読みました。_"
    ),
    "_I couldn't search the documents just now, so this answer doesn't draw on them._": (
        "_今はドキュメントを検索できなかったため、この回答はドキュメントを使っていません。_"
    ),
    "Your message is empty. Write something for me to answer.": (
        "メッセージが空です。答えてほしいことを書いてください。"
    ),
    "Your message is too long for the model's memory. Please shorten it.": (
        "メッセージが長すぎてモデルの記憶に収まりません。短くしてください。"
    ),
    "Resetting a shared channel's memory needs the Manage Channels permission.": (
        "共有チャンネルの記憶を消すには「チャンネルの管理」権限が必要です。"
    ),
    "Forget everything I remember from this channel? This can't be undone.": (
        "このチャンネルで記憶している内容をすべて消しますか？元に戻すことはできません。"
    ),
    "Forget": "消す",
    "Done: I forgot {count} messages here.": (
        "完了：このチャンネルのメッセージ {count} 件を記憶から消しました。"
    ),
    "Setting the persona needs the Manage Channels permission.": (
        "ペルソナを設定するには「チャンネルの管理」権限が必要です。"
    ),
    "Clearing the persona needs the Manage Channels permission.": (
        "ペルソナを削除するには「チャンネルの管理」権限が必要です。"
    ),
    "The persona can't be empty. Use `/persona clear` to remove it.": (
        "ペルソナは空にできません。削除するには `/persona clear` を使ってください。"
    ),
    "The persona is too long: keep it under {limit} characters.": (
        "ペルソナが長すぎます。{limit} 文字以内にしてください。"
    ),
    "Persona set for this channel.": "このチャンネルのペルソナを設定しました。",
    "Persona cleared for this channel.": "このチャンネルのペルソナを削除しました。",
    "This channel's persona:\n>>> {persona}": "このチャンネルのペルソナ：\n>>> {persona}",
    "No persona is set here.": "このチャンネルにはペルソナが設定されていません。",
    "Yes": "はい",
    "Cancel": "キャンセル",
    "Cancelled.": "キャンセルしました。",
    "This question isn't for you.": "この確認はあなた宛てではありません。",
    # --- Errors and permissions (cogs/errors.py)
    "Something went wrong on my side (error id `{error_id}`). It has been logged; please try again.": (
        "ボット側で問題が発生しました（エラー ID `{error_id}`）。記録済みです。もう一度お試しください。"
    ),
    "You need the {needed} permission to do that.": "この操作には「{needed}」権限が必要です。",
    "I need the {needed} permission here to do that.": (
        "この操作には、このチャンネルでのボットの「{needed}」権限が必要です。"
    ),
    "This command only works in a server.": "このコマンドはサーバー内でのみ使えます。",
    "Slow down a little: try again in {seconds:.0f} seconds.": (
        "少し間を空けてください。{seconds:.0f} 秒後にもう一度お試しください。"
    ),
    "You can't use this command here.": "ここではこのコマンドを使えません。",
    ", ": "、",
    "Administrator": "管理者",
    "Manage Server": "サーバー管理",
    "Manage Channels": "チャンネルの管理",
    "Manage Roles": "ロールの管理",
    "Manage Messages": "メッセージの管理",
    "Manage Threads": "スレッドの管理",
    "View Channels": "チャンネルを見る",
    "Read Message History": "メッセージ履歴を読む",
    "Send Messages": "メッセージを送信",
    "Send Messages In Threads": "スレッドでメッセージを送信",
    "Attach Files": "ファイルを添付",
    "Embed Links": "埋め込みリンク",
    "Add Reactions": "リアクションの追加",
    "Use Application Commands": "アプリコマンドを使う",
    # --- Catch-up (bot/summarize.py, cogs/catchup.py)
    "**Catch-up** on the last {count} messages here:": "**まとめ**（直近のメッセージ {count} 件）：",
    "There are no messages with text here to catch up on.": (
        "ここにはまとめられるテキストのメッセージがありません。"
    ),
    "You can't read this channel's message history, so I can't summarize it for you.": (
        "あなたにはこのチャンネルのメッセージ履歴を読む権限がないため、まとめを作れません。"
    ),
    "I can't read this channel's history: I need the Read Message History permission here.": (
        "このチャンネルの履歴を読めません。ボットにこのチャンネルの「メッセージ履歴を読む」権限が必要です。"
    ),
    # --- Moderation (bot/moderation.py, cogs/moderation.py)
    "I can't help with that message. Please rephrase it and try again.": (
        "そのメッセージにはお応えできません。表現を変えてもう一度お試しください。"
    ),
    "I can't show the answer I wrote for that. Please try asking in a different way.": (
        "その質問への回答は表示できません。別の聞き方でお試しください。"
    ),
    (
        "🛡️ Moderation flagged a message from <@{user}> ({name}) in <#{channel}> ({feature}): {categories}. "
        "It was refused. {link}"
    ): (
        "🛡️ <#{channel}> で <@{user}>（{name}）のメッセージがモデレーションに検出されました（{feature}）："
        "{categories}。メッセージは拒否しました。{link}"
    ),
    (
        "🛡️ Moderation flagged the bot's answer to <@{user}> ({name}) in <#{channel}> ({feature}): "
        "{categories}. It was not shown. {link}"
    ): (
        "🛡️ <#{channel}> で <@{user}>（{name}）へのボットの回答がモデレーションに検出されました（{feature}）"
        "：{categories}。回答は表示していません。{link}"
    ),
    "no category given": "カテゴリなし",
    # --- Data deletion (bot/forget.py, cogs/privacy.py)
    "I don't store anything about you.": "あなたに関するデータは何も保存していません。",
    "This deletes what I store about you:": "あなたについて保存している次のデータを削除します：",
    "• {count} of your messages in my conversation memory (every server and DM)": (
        "• 会話の記憶にあるあなたのメッセージ {count} 件（すべてのサーバーと DM）"
    ),
    "• {count} of my answers to them": "• それらへのボットの回答 {count} 件",
    "• {count} conversation summaries that include them (rebuilt without you)": (
        "• それらを含む会話の要約 {count} 件（あなたの分を除いて作り直します）"
    ),
    "• {count} records of images you made (prompts included)": (
        "• あなたが生成した画像の記録 {count} 件（プロンプトを含む）"
    ),
    (
        "• {count} usage records: kept only as anonymous totals, so server budgets stay right "
        "(this month's stay linked to you until the month ends, so your own limits do too)"
    ): (
        "• 利用記録 {count} 件：サーバーの予算が正しく保たれるよう匿名の合計としてのみ残します"
        "（今月分はあなた自身の上限も保たれるよう、月末まであなたに紐づいたままです）"
    ),
    "• {count} documents you uploaded, if you choose to delete them too": (
        "• あなたがアップロードしたドキュメント {count} 件（一緒に削除を選んだ場合）"
    ),
    "Messages already posted in Discord are not affected. This can't be undone.": (
        "Discord に投稿済みのメッセージには影響しません。この操作は元に戻せません。"
    ),
    "Delete all, with my documents": "ドキュメントも含めてすべて削除",
    "Delete, keep my documents": "削除する（ドキュメントは残す）",
    "Delete": "削除する",
    "Cancelled: nothing was deleted.": "キャンセルしました。何も削除していません。",
    "Done.": "完了しました。",
    "Done. I deleted:": "完了しました。削除したデータ：",
    "• {count} of your messages in my conversation memory": (
        "• 会話の記憶にあったあなたのメッセージ {count} 件"
    ),
    "• {count} conversation summaries that included them": "• それらを含んでいた会話の要約 {count} 件",
    "• {count} records of images you made": "• あなたが生成した画像の記録 {count} 件",
    "• {count} usage records: anonymous totals now, this month's when the month ends": (
        "• 利用記録 {count} 件（匿名の合計に変換。今月分は月末に変換）"
    ),
    "• your name on {count} server setting changes (the changes themselves stay)": (
        "• サーバー設定の変更 {count} 件に記録されたあなたの名前（変更の内容は残ります）"
    ),
    "• your name on {count} server setting changes": (
        "• サーバー設定の変更 {count} 件に記録されたあなたの名前"
    ),
    "• {count} documents you uploaded, with their search index": (
        "• あなたがアップロードしたドキュメント {count} 件（検索インデックスを含む）"
    ),
    "Your {count} documents were kept.": "あなたのドキュメント {count} 件は残しました。",
}
