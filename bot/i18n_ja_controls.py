"""Japanese for the refusals of images, code files, code help and the team controls (limits, budgets,
role gates, settings); bot/i18n_ja.py merges it into the catalog."""

from __future__ import annotations

CONTROLS: dict[str, str] = {
    # --- Images (bot/image_prep.py, bot/images.py, cogs/images.py) and code files (bot/code.py)
    "image": "画像",
    "mask": "マスク",
    "generated image": "生成された画像",
    "The {what} is too large to work with: keep it under {mb} MB and {mp} megapixels.": (
        "{what}が大きすぎて扱えません。{mb} MB 以下、{mp} メガピクセル以下にしてください。"
    ),
    "The {what} isn't an image I can read: use a PNG, JPEG, WebP or GIF file.": (
        "{what}は読み込める画像ではありません。PNG、JPEG、WebP、GIF のいずれかを使ってください。"
    ),
    "The {what} looks damaged (it doesn't decode completely). Export it again and retry.": (
        "{what}が破損しているようです（最後まで読み込めません）。書き出し直してからもう一度お試しください。"
    ),
    "The {what} `{name}` isn't an image: attach a PNG, JPEG, WebP or GIF file.": (
        "{what} `{name}` は画像ではありません。PNG、JPEG、WebP、GIF のいずれかを添付してください。"
    ),
    "The {what} is too large ({size} MB): keep it under {limit} MB.": (
        "{what}が大きすぎます（{size} MB）。{limit} MB 以下にしてください。"
    ),
    (
        "`{name}` can't edit images. An admin can set IMAGE_MODEL to gpt-image-1 or dall-e-2 "
        "to use /image edit."
    ): (
        "`{name}` は画像を編集できません。/image edit を使うには、管理者が IMAGE_MODEL を "
        "gpt-image-1 か dall-e-2 に設定してください。"
    ),
    "`{name}` can't make variations. An admin can set IMAGE_MODEL to gpt-image-1 or dall-e-2.": (
        "`{name}` はバリエーションを作れません。"
        "管理者が IMAGE_MODEL を gpt-image-1 か dall-e-2 に設定できます。"
    ),
    "The prompt is too long for this model: keep it under {limit} characters.": (
        "このモデルにはプロンプトが長すぎます。{limit} 文字未満にしてください。"
    ),
    (
        "The mask needs transparent areas where the edit should go: upload a PNG (or WebP) with "
        "an alpha channel, fully transparent where things change and opaque where they stay."
    ): (
        "マスクには編集したい部分に透明な領域が必要です。アルファチャンネル付きの PNG（または WebP）を、"
        "変える部分は完全に透明、残す部分は不透明にしてアップロードしてください。"
    ),
    "Only generated images can be made again: use Vary instead.": (
        "作り直せるのは生成した画像だけです。代わりに「バリエーション」を使ってください。"
    ),
    "I no longer have the details of that image.": "その画像の詳細はもう残っていません。",
    "Describe the image you want: the prompt can't be empty.": (
        "作りたい画像を説明してください。プロンプトは空にできません。"
    ),
    (
        "Making the image took longer than the provider's time limit. Try again, or ask for fewer "
        "images or a lower quality (an admin can raise REQUEST_TIMEOUT)."
    ): (
        "画像の作成がプロバイダーの制限時間を超えました。もう一度試すか、枚数を減らすか品質を下げてください"
        "（管理者は REQUEST_TIMEOUT を延ばせます）。"
    ),
    "That image is no longer attached to the message.": "その画像はもうメッセージに添付されていません。",
    "Images are switched off on this bot right now.": "このボットでは現在、画像機能がオフになっています。",
    "'{name}' is {what}, not code. Code help reads {accepted}.": (
        "「{name}」は{what}で、コードではありません。コードのヘルプが読めるのは{accepted}です。"
    ),
    "a PDF document": "PDF 文書",
    "a Word document": "Word 文書",
    "a CSV spreadsheet": "CSV の表",
    "not a code file": "コードのファイルではないもの",
    "source code (.py, .js, .ts, .go, .java, .rs …) or any other plain-text file": (
        "ソースコード（.py、.js、.ts、.go、.java、.rs など）やその他のプレーンテキストのファイル"
    ),
    "'{name}' is empty: there is no code in it.": "「{name}」は空で、コードが入っていません。",
    "_The fixed file is UTF-8: the new code has characters {encoding} can't hold._": (
        "_修正後のコードに {encoding} で表せない文字があるため、修正したファイルは UTF-8 です。_"
    ),
    (
        "That code is {size} characters; code help reads at most {limit} characters at a time. "
        "Send the part you need help with (a function or a smaller file)."
    ): (
        "そのコードは {size} 文字あります。コードのヘルプが一度に読めるのは {limit} 文字までです。"
        "見てほしい部分（関数や小さなファイル）だけを送ってください。"
    ),
    # --- Team controls (bot/limits.py, bot/permissions.py, bot/server_settings.py, cogs/team.py)
    "You are over the limit of {requests} a minute. Try again in {seconds}.": (
        "1 分あたり {requests}の上限を超えています。{seconds}後にもう一度お試しください。"
    ),
    "This server is over the limit of {requests} a minute. Try again in {seconds}.": (
        "このサーバーは 1 分あたり {requests}の上限を超えています。{seconds}後にもう一度お試しください。"
    ),
    "{n} request": "{n} 件",
    "{n} requests": "{n} 件",
    "{n} second": "{n} 秒",
    "{n} seconds": "{n} 秒",
    "You've used your daily token budget ({limit} tokens).": (
        "1 日のトークン予算（{limit} トークン）を使い切りました。"
    ),
    "This server has used its daily token budget ({limit} tokens).": (
        "このサーバーは 1 日のトークン予算（{limit} トークン）を使い切りました。"
    ),
    "You've used your monthly token budget ({limit} tokens).": (
        "1 か月のトークン予算（{limit} トークン）を使い切りました。"
    ),
    "This server has used its monthly token budget ({limit} tokens).": (
        "このサーバーは 1 か月のトークン予算（{limit} トークン）を使い切りました。"
    ),
    "That would pass your daily image limit ({limit} a day: {left} left, {asked} asked for).": (
        "1 日の画像の上限（1 日 {limit} 枚、残り {left} 枚、依頼 {asked} 枚）を超えてしまいます。"
    ),
    "That would pass this server's daily image limit ({limit} a day: {left} left, {asked} asked for).": (
        "このサーバーの 1 日の画像の上限（1 日 {limit} 枚、残り {left} 枚、依頼 {asked} 枚）"
        "を超えてしまいます。"
    ),
    "{what} It resets <t:{resets}:R> ({when}).": "{what}<t:{resets}:R>（{when}）にリセットされます。",
    "midnight UTC": "UTC の午前 0 時",
    "the 1st, 00:00 UTC": "毎月 1 日 00:00 UTC",
    "{feature} is limited to {who} on this server. Ask someone with Manage Server if you need access.": (
        "このサーバーでは、{feature}は {who} に限られています。"
        "必要な場合は「サーバー管理」権限を持つ人に依頼してください。"
    ),
    "a role that no longer exists": "今は存在しないロール",
    "Chatting with the bot": "ボットとのチャット",
    "Adding documents": "ドキュメントの追加",
    "Asking the documents": "ドキュメントへの質問",
    "Code help": "コードのヘルプ",
    "Making images": "画像の作成",
    "{action} needs the Manage Server permission.": "{action}には「サーバー管理」権限が必要です。",
    "Seeing the server settings": "サーバー設定の表示",
    "Changing the server settings": "サーバー設定の変更",
    "Seeing someone else's usage": "他の人の利用状況の表示",
    "There is no setting called `{name}`. Settings: {keys}.": (
        "`{name}` という設定はありません。設定：{keys}。"
    ),
    "`{key}` {expected}.": "`{key}` は{expected}。",
    "must be a model name such as gpt-4o-mini (letters, digits and . - _ : / only)": (
        "gpt-4o-mini のようなモデル名（英字、数字と . - _ : / のみ）にしてください"
    ),
    "must be `on` or `off`": "`on` か `off` にしてください",
    "must be `auto`, `en` (English) or `ja` (Japanese)": (
        "`auto`、`en`（英語）、`ja`（日本語）のいずれかにしてください"
    ),
    "must be a text channel of this server (#channel or its id), or `none`": (
        "このサーバーのテキストチャンネル（#チャンネル または ID）か `none` にしてください"
    ),
    "must be `everyone` or roles of this server ({forms})": (
        "`everyone` か、このサーバーのロール（{forms}）にしてください"
    ),
    "@Role, names or ids, separated by commas": "@ロール、名前または ID をカンマ区切りで",
    (
        "must be a whole number of at least 1 (such as 200000 or 200k), or `unlimited`. "
        "To keep people from {what} at all, limit who may use it with the `_roles` settings"
    ): (
        "1 以上の整数（200000 や 200k など）か `unlimited` にしてください。"
        "{what}そのものをさせないようにするには、`_roles` の設定で使える人を限定してください"
    ),
    "making images": "画像を作ること",
    "using the bot": "ボットを使うこと",
    "In DMs you can only see your own usage.": "DM では自分の利用状況だけを表示できます。",
    "Server settings only exist in a server.": "サーバー設定はサーバーの中でのみ使えます。",
    # --- Code help (bot/code.py)
    (
        "I found no code to work with. Paste it in `code`, attach a file, or use the command "
        "without either to get a box to paste into."
    ): (
        "対象のコードが見つかりませんでした。`code` に貼り付けるかファイルを添付するか、"
        "どちらも指定せずにコマンドを使うと貼り付け用の入力欄が開きます。"
    ),
    "Tell me which language to convert to in `language`.": "`language` に変換先の言語を指定してください。",
}
